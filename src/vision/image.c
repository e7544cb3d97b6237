#include "vision/image.h"

#include <errno.h>
#include <spng.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>

#include "core/atomic_file.h"

/* A compressed image file larger than this is refused before it is read. */
#define YQ_IMAGE_MAX_FILE_BYTES ((size_t)1 << 30)

static yq_status check_dims(const char *name, long long w, long long h) {
    if (w <= 0 || h <= 0) return yq_fail(YQ_ERR_PARSE, "%s: invalid image size %lldx%lld", name, w, h);
    if (w > YQ_IMAGE_MAX_SIDE || h > YQ_IMAGE_MAX_SIDE || w * h > YQ_IMAGE_MAX_PIXELS)
        return yq_fail(YQ_ERR_LIMIT,
                       "%s: image is %lldx%lld, beyond the limit (%d per side, %lld pixels): refusing to decode",
                       name, w, h, YQ_IMAGE_MAX_SIDE, YQ_IMAGE_MAX_PIXELS);
    return YQ_OK;
}

yq_status yq_image_alloc(yq_image *img, int w, int h, int c) {
    memset(img, 0, sizeof *img);
    if (c < 1 || c > 4) return yq_fail(YQ_ERR_ARG, "image: %d channels (expected 1..4)", c);
    YQ_TRY(check_dims("image", w, h));
    img->px = yq_calloc((size_t)w * (size_t)h, (size_t)c);
    if (!img->px) return YQ_ERR_NOMEM;
    img->w = w;
    img->h = h;
    img->c = c;
    return YQ_OK;
}

void yq_image_free(yq_image *img) {
    if (!img) return;
    free(img->px);
    memset(img, 0, sizeof *img);
}

/* ---- EXIF orientation ------------------------------------------------------ */

static unsigned rd16(const unsigned char *p, int le) { return le ? p[0] | (p[1] << 8) : (p[0] << 8) | p[1]; }
static uint32_t rd32(const unsigned char *p, int le) {
    return le ? (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24)
              : ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* Orientation tag (0x0112) of IFD0 in a TIFF block, or 1. */
static int tiff_orientation(const unsigned char *t, size_t n) {
    if (n < 8) return 1;
    int le;
    if (t[0] == 'I' && t[1] == 'I') le = 1;
    else if (t[0] == 'M' && t[1] == 'M') le = 0;
    else return 1;
    if (rd16(t + 2, le) != 42) return 1;
    uint32_t ifd = rd32(t + 4, le);
    if (ifd > n || n - ifd < 2) return 1;
    unsigned count = rd16(t + ifd, le);
    for (unsigned i = 0; i < count; i++) {
        size_t e = (size_t)ifd + 2 + 12 * (size_t)i;
        if (e + 12 > n) return 1;
        if (rd16(t + e, le) != 0x0112) continue;
        unsigned type = rd16(t + e + 2, le);
        if (type != 3 || rd32(t + e + 4, le) < 1) return 1; /* SHORT, count >= 1 */
        unsigned v = rd16(t + e + 8, le);
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}

int yq_jpeg_exif_orientation(const unsigned char *d, size_t n) {
    if (n < 4 || d[0] != 0xFF || d[1] != 0xD8) return 1;
    size_t i = 2;
    while (i + 4 <= n) {
        if (d[i] != 0xFF) return 1;
        unsigned marker = d[i + 1];
        if (marker == 0xFF) { /* fill byte */
            i++;
            continue;
        }
        if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) {
            i += 2;
            continue;
        }
        if (marker == 0xDA || marker == 0xD9) return 1; /* image data starts: no EXIF before it */
        size_t seglen = ((size_t)d[i + 2] << 8) | d[i + 3];
        if (seglen < 2 || i + 2 + seglen > n) return 1;
        const unsigned char *seg = d + i + 4;
        size_t body = seglen - 2;
        if (marker == 0xE1 && body >= 6 && memcmp(seg, "Exif\0\0", 6) == 0)
            return tiff_orientation(seg + 6, body - 6);
        i += 2 + seglen;
    }
    return 1;
}

yq_status yq_image_apply_orientation(yq_image *img, int orientation) {
    if (orientation < 2 || orientation > 8) return YQ_OK;
    const int w = img->w, h = img->h, c = img->c;
    const int transposed = orientation >= 5;
    const int ow = transposed ? h : w, oh = transposed ? w : h;
    /* Output (x, y) reads source (sx, sy). For 5..8 OpenCV transposes first
     * (t(x, y) = src(y, x)) and then flips the transposed image. */
    int flip_x = 0, flip_y = 0;
    switch (orientation) {
    case 2: flip_x = 1; break;
    case 3: flip_x = flip_y = 1; break;
    case 4: flip_y = 1; break;
    case 5: break;
    case 6: flip_x = 1; break;
    case 7: flip_x = flip_y = 1; break;
    case 8: flip_y = 1; break;
    }
    uint8_t *out = yq_malloc((size_t)w * (size_t)h * (size_t)c);
    if (!out) return YQ_ERR_NOMEM;
    for (int y = 0; y < oh; y++) {
        int ty = flip_y ? oh - 1 - y : y;
        for (int x = 0; x < ow; x++) {
            int tx = flip_x ? ow - 1 - x : x;
            int sx = transposed ? ty : tx, sy = transposed ? tx : ty;
            memcpy(out + ((size_t)y * ow + x) * c, img->px + ((size_t)sy * w + sx) * c, (size_t)c);
        }
    }
    free(img->px);
    img->px = out;
    img->w = ow;
    img->h = oh;
    return YQ_OK;
}

/* ---- JPEG ------------------------------------------------------------------ */

static yq_status decode_jpeg(const unsigned char *data, size_t len, const char *name, int flags, yq_image *img) {
    tjhandle tj = tjInitDecompress();
    if (!tj) return yq_fail(YQ_ERR_NOMEM, "%s: cannot start the JPEG decoder", name);
    yq_status st = YQ_OK;
    int w = 0, h = 0, subsamp = 0, colorspace = 0;
    if (tjDecompressHeader3(tj, data, (unsigned long)len, &w, &h, &subsamp, &colorspace) != 0) {
        st = yq_fail(YQ_ERR_PARSE, "%s: corrupt JPEG header: %s", name, tjGetErrorStr2(tj));
        goto done;
    }
    if (w <= 0 || h <= 0) { /* libjpeg stops quietly when the data ends inside the header */
        st = yq_fail(YQ_ERR_PARSE, "%s: corrupt or truncated JPEG header (no image size)", name);
        goto done;
    }
    if ((st = check_dims(name, w, h)) != YQ_OK) goto done;
    const int cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
    if ((st = yq_image_alloc(img, w, h, cmyk ? 4 : 3)) != YQ_OK) goto done;
    /* flags = 0: accurate integer IDCT and fancy (smooth) chroma upsampling,
     * libjpeg's defaults, which is what cv2.imread decodes with. A warning
     * (e.g. premature end of data) leaves part of the image invented, so it is
     * an error here rather than a silently grey image. */
    if (tjDecompress2(tj, data, (unsigned long)len, img->px, w, 0, h, cmyk ? TJPF_CMYK : TJPF_RGB, 0) != 0) {
        const char *what = tjGetErrorCode(tj) == TJERR_WARNING ? "corrupt or truncated JPEG data" : "cannot decode JPEG";
        st = yq_fail(YQ_ERR_PARSE, "%s: %s: %s", name, what, tjGetErrorStr2(tj));
        yq_image_free(img);
        goto done;
    }
    if (cmyk) {
        /* Adobe (inverted) CMYK to RGB the way OpenCV's JPEG reader does it. */
        const size_t n = (size_t)w * (size_t)h;
        uint8_t *p = img->px;
        for (size_t i = 0; i < n; i++) {
            int c = p[4 * i], m = p[4 * i + 1], y = p[4 * i + 2], k = p[4 * i + 3];
            p[3 * i + 0] = (uint8_t)(k - (((255 - c) * k) >> 8));
            p[3 * i + 1] = (uint8_t)(k - (((255 - m) * k) >> 8));
            p[3 * i + 2] = (uint8_t)(k - (((255 - y) * k) >> 8));
        }
        img->c = 3;
        uint8_t *shrunk = realloc(img->px, n * 3);
        if (shrunk) img->px = shrunk;
    }
    if (!(flags & YQ_IMAGE_IGNORE_ORIENTATION)) {
        st = yq_image_apply_orientation(img, yq_jpeg_exif_orientation(data, len));
        if (st != YQ_OK) yq_image_free(img);
    }
done:
    tjDestroy(tj);
    return st;
}

/* ---- PNG ------------------------------------------------------------------- */

static yq_status decode_png(const unsigned char *data, size_t len, const char *name, yq_image *img) {
    spng_ctx *ctx = spng_ctx_new(0);
    if (!ctx) return yq_fail(YQ_ERR_NOMEM, "%s: cannot start the PNG decoder", name);
    yq_status st = YQ_OK;
    uint8_t *rgba = NULL;
    int err;
    struct spng_ihdr ihdr;
    /* Bound metadata chunks too, so a hostile file cannot make us cache gigabytes. */
    spng_set_chunk_limits(ctx, 64u << 20, 64u << 20);
    if ((err = spng_set_png_buffer(ctx, data, len)) != 0 || (err = spng_get_ihdr(ctx, &ihdr)) != 0) {
        st = yq_fail(YQ_ERR_PARSE, "%s: corrupt PNG header: %s", name, spng_strerror(err));
        goto done;
    }
    if ((st = check_dims(name, ihdr.width, ihdr.height)) != YQ_OK) goto done;
    const int w = (int)ihdr.width, h = (int)ihdr.height;
    size_t rgba_len = 0;
    if ((err = spng_decoded_image_size(ctx, SPNG_FMT_RGBA8, &rgba_len)) != 0) {
        st = yq_fail(YQ_ERR_PARSE, "%s: unsupported PNG: %s", name, spng_strerror(err));
        goto done;
    }
    rgba = yq_malloc(rgba_len);
    if (!rgba) {
        st = YQ_ERR_NOMEM;
        goto done;
    }
    /* Any PNG (gray, palette, RGB, with alpha, 1..16 bits) decodes to RGBA8;
     * like cv2.imread(IMREAD_COLOR) the alpha channel is then dropped, not blended. */
    if ((err = spng_decode_image(ctx, rgba, rgba_len, SPNG_FMT_RGBA8, 0)) != 0) {
        st = yq_fail(YQ_ERR_PARSE, "%s: corrupt or truncated PNG data: %s", name, spng_strerror(err));
        goto done;
    }
    if ((st = yq_image_alloc(img, w, h, 3)) != YQ_OK) goto done;
    const size_t n = (size_t)w * (size_t)h;
    for (size_t i = 0; i < n; i++) {
        img->px[3 * i + 0] = rgba[4 * i + 0];
        img->px[3 * i + 1] = rgba[4 * i + 1];
        img->px[3 * i + 2] = rgba[4 * i + 2];
    }
done:
    free(rgba);
    spng_ctx_free(ctx);
    return st;
}

/* ---- entry points ---------------------------------------------------------- */

yq_status yq_image_decode(const unsigned char *data, size_t len, const char *name, int flags, yq_image *img) {
    static const unsigned char png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    memset(img, 0, sizeof *img);
    if (!name) name = "image";
    if (len >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return decode_jpeg(data, len, name, flags, img);
    if (len >= 8 && memcmp(data, png_magic, 8) == 0) return decode_png(data, len, name, img);
    if (len == 0) return yq_fail(YQ_ERR_PARSE, "%s: empty file, not an image", name);
    return yq_fail(YQ_ERR_PARSE, "%s: not a JPEG or PNG image (unrecognized first bytes)", name);
}

yq_status yq_image_load_ex(const char *path, int flags, yq_image *img) {
    memset(img, 0, sizeof *img);
    struct stat sb;
    if (stat(path, &sb) != 0) return yq_fail(YQ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISREG(sb.st_mode) && (size_t)sb.st_size > YQ_IMAGE_MAX_FILE_BYTES)
        return yq_fail(YQ_ERR_LIMIT, "%s: %lld bytes, too large for an image file", path, (long long)sb.st_size);
    unsigned char *data = NULL;
    size_t len = 0;
    YQ_TRY(yq_read_file(path, &data, &len));
    yq_status st = yq_image_decode(data, len, path, flags, img);
    free(data);
    return st;
}

yq_status yq_image_load(const char *path, yq_image *img) { return yq_image_load_ex(path, 0, img); }

yq_status yq_image_save_png(const char *path, const yq_image *img) {
    if (!img || !img->px || img->w <= 0 || img->h <= 0)
        return yq_fail(YQ_ERR_ARG, "%s: cannot write an empty image", path);
    uint8_t color;
    switch (img->c) {
    case 1: color = SPNG_COLOR_TYPE_GRAYSCALE; break;
    case 3: color = SPNG_COLOR_TYPE_TRUECOLOR; break;
    case 4: color = SPNG_COLOR_TYPE_TRUECOLOR_ALPHA; break;
    default: return yq_fail(YQ_ERR_ARG, "%s: cannot write a %d-channel image as PNG", path, img->c);
    }
    yq_atomic_file af;
    YQ_TRY(yq_atomic_open(&af, path));
    spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
    if (!ctx) {
        yq_atomic_abort(&af);
        return yq_fail(YQ_ERR_NOMEM, "%s: cannot start the PNG encoder", path);
    }
    struct spng_ihdr ihdr = {0};
    ihdr.width = (uint32_t)img->w;
    ihdr.height = (uint32_t)img->h;
    ihdr.bit_depth = 8;
    ihdr.color_type = color;
    int err;
    if ((err = spng_set_png_file(ctx, af.fp)) != 0 || (err = spng_set_ihdr(ctx, &ihdr)) != 0 ||
        (err = spng_encode_image(ctx, img->px, (size_t)img->w * img->h * img->c, SPNG_FMT_PNG,
                                 SPNG_ENCODE_FINALIZE)) != 0) {
        spng_ctx_free(ctx);
        yq_atomic_abort(&af);
        return yq_fail(YQ_ERR_IO, "%s: PNG encoding failed: %s", path, spng_strerror(err));
    }
    spng_ctx_free(ctx);
    return yq_atomic_commit(&af);
}
