/* 8-bit images: JPEG/PNG decoding and PNG writing.
 * Pixels are interleaved, row-major, no row padding; loaded images are always
 * RGB (c == 3). JPEG decoding is TurboJPEG with its default (accurate) IDCT and
 * fancy upsampling, which is what OpenCV's cv2.imread gets from the same
 * libjpeg-turbo, and the EXIF orientation tag is applied as cv2.imread does,
 * so a loaded image matches cv2.imread(path)[..., ::-1] pixel for pixel. */
#ifndef YQ_VISION_IMAGE_H
#define YQ_VISION_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct yq_image {
    int w, h, c;  /* c: 1 (gray), 3 (RGB) or 4 (RGBA) */
    uint8_t *px;  /* w*h*c bytes, owned: release with yq_image_free */
} yq_image;

/* Limits against decompression bombs: a file whose header claims more is
 * refused (YQ_ERR_LIMIT) before any pixel memory is allocated. */
#define YQ_IMAGE_MAX_SIDE 16384
#define YQ_IMAGE_MAX_PIXELS 100000000LL

/* Flags for yq_image_decode / yq_image_load_ex. */
enum {
    YQ_IMAGE_IGNORE_ORIENTATION = 1, /* keep the stored pixel order (cv2.IMREAD_IGNORE_ORIENTATION) */
};

/* Allocate w*h*c zeroed bytes (c in 1..4; sides within the limits above). */
yq_status yq_image_alloc(yq_image *img, int w, int h, int c);
void yq_image_free(yq_image *img);

/* Decode a JPEG or PNG held in memory into RGB. The format is told by its magic
 * bytes; `name` is only used in error messages. */
yq_status yq_image_decode(const unsigned char *data, size_t len, const char *name, int flags,
                          yq_image *img);
/* Read and decode a file (flags = 0). Errors name the file: missing, not an
 * image, corrupt or truncated data, too large. */
yq_status yq_image_load(const char *path, yq_image *img);
yq_status yq_image_load_ex(const char *path, int flags, yq_image *img);

/* Write an 8-bit PNG (gray, RGB or RGBA after img->c) atomically. */
yq_status yq_image_save_png(const char *path, const yq_image *img);

/* EXIF orientation (1..8) found in a JPEG's APP1 segment, or 1 when there is
 * none or it is unreadable. Exposed for tests. */
int yq_jpeg_exif_orientation(const unsigned char *data, size_t len);
/* Reorient img in place after an EXIF orientation value, as cv2.imread does
 * (2: mirror, 3: rotate 180, 4: flip, 5: transpose, 6: rotate 90 clockwise,
 * 7: transverse, 8: rotate 90 counter-clockwise; others: nothing). */
yq_status yq_image_apply_orientation(yq_image *img, int orientation);

#endif
