/* Drawing detections onto an image: 2-px box outlines in a per-class colour and
 * a "name 0.87" label on a filled background, in a built-in 5x7 bitmap font. */
#ifndef YQ_VISION_DRAW_H
#define YQ_VISION_DRAW_H

#include "core/status.h"
#include "vision/image.h"
#include "vision/yolo_decode.h"

typedef struct yq_rgb {
    uint8_t r, g, b;
} yq_rgb;

/* Fixed 20-colour palette, indexed by class modulo 20. */
yq_rgb yq_class_color(int cls);

/* Primitives on an RGB or RGBA image (alpha left as is); everything is clipped
 * to the image. Rectangles are inclusive pixel ranges [x1,x2] x [y1,y2]. */
void yq_fill_rect(yq_image *img, int x1, int y1, int x2, int y2, yq_rgb color);
/* Outline `thickness` pixels wide, drawn inward from the rectangle's edges. */
void yq_draw_rect(yq_image *img, int x1, int y1, int x2, int y2, int thickness, yq_rgb color);
/* Printable ASCII in the 5x7 font, each glyph pixel a scale x scale block, top-left
 * at (x, y); characters outside 32..126 print as '?'. */
void yq_draw_text(yq_image *img, int x, int y, const char *text, int scale, yq_rgb color);
int yq_text_width(const char *text, int scale); /* advance: 6*scale per character, minus the last gap */
int yq_text_height(int scale);                  /* 7*scale */

/* Draw boxes (image coordinates) with labels; names[cls] when cls < n_names,
 * else the class number. */
yq_status yq_draw_detections(yq_image *img, const yq_det *dets, int n, const char *const *names, int n_names);

#endif
