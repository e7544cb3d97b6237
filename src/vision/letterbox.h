/* Ultralytics letterbox, bit-exact.
 * LetterBox(auto=False, scaleup=True, center=True) at a square size S:
 *   r = min(S/h, S/w); new = (round(w*r), round(h*r))       (Python round: half to even)
 *   resize with cv2.resize(INTER_LINEAR) when new != (w, h)
 *   dw = (S - new_w)/2, dh = (S - new_h)/2
 *   top = round(dh - 0.1), bottom = round(dh + 0.1), left/right likewise, pad value 114.
 * The resize reproduces OpenCV 4.x's 8-bit INTER_LINEAR exactly: 11-bit fixed-point
 * weights, an integer horizontal pass, a vertical pass in OpenCV's truncating
 * 16-bit arithmetic, and the switch to the 2x2 box filter (INTER_AREA fast
 * path) for an exact 1/2 downscale. */
#ifndef YQ_VISION_LETTERBOX_H
#define YQ_VISION_LETTERBOX_H

#include "core/status.h"
#include "vision/image.h"

#define YQ_LETTERBOX_PAD 114

typedef struct yq_letterbox {
    int src_w, src_h;        /* original image */
    int dst_w, dst_h;        /* model input (S x S for the square case) */
    int new_w, new_h;        /* resized image inside the padding */
    int pad_left, pad_top;   /* where the resized image starts */
    int pad_right, pad_bottom;
    double ratio;            /* r = min(dst_h/src_h, dst_w/src_w) */
} yq_letterbox;

/* Geometry only. dst_w/dst_h >= 1; a result with new_w or new_h == 0 is refused. */
yq_status yq_letterbox_plan(int src_w, int src_h, int dst_w, int dst_h, yq_letterbox *lb);

/* Letterbox into a new dst_w x dst_h image with src's channels (1, 3 or 4). */
yq_status yq_letterbox_image(const yq_image *src, int dst_w, int dst_h, yq_image *dst, yq_letterbox *lb);
/* Letterbox an RGB image straight into the model input: float32 NCHW [1,3,dst_h,dst_w],
 * values x/255 in 0..1 (pad 114/255). `out` holds 3*dst_w*dst_h floats. */
yq_status yq_letterbox_nchw(const yq_image *src, int dst_w, int dst_h, float *out, yq_letterbox *lb);
/* RGB uint8 HWC -> float32 CHW x/255 (what Ultralytics' preprocess does after the letterbox). */
yq_status yq_image_to_nchw(const yq_image *img, float *out);

/* cv2.resize(src, (dw, dh), interpolation=cv2.INTER_LINEAR) for 8-bit images with
 * 1, 3 or 4 channels, bit-exact with OpenCV 4.x (checked against 4.6 on x86-64). */
yq_status yq_resize_linear(const yq_image *src, int dw, int dh, yq_image *dst);
/* Same result from a plain per-pixel formulation (slow; the oracle for the fast one). */
yq_status yq_resize_linear_ref(const yq_image *src, int dw, int dh, yq_image *dst);

/* Map a point of the letterboxed frame back to the original image (not clipped). */
static inline float yq_letterbox_unmap_x(const yq_letterbox *lb, float x) {
    return (x - (float)lb->pad_left) / (float)lb->ratio;
}
static inline float yq_letterbox_unmap_y(const yq_letterbox *lb, float y) {
    return (y - (float)lb->pad_top) / (float)lb->ratio;
}

#endif
