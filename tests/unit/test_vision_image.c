/* Image I/O: PNG round trips, JPEG decoding and its failure modes (missing,
 * empty, garbage, non-image, truncated, corrupt header, decompression bombs),
 * EXIF orientation, CMYK JPEGs. */
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "core/atomic_file.h"
#include "vision/image.h"

static char path_buf[4096];
static const char *tmp_path(const char *name) {
    snprintf(path_buf, sizeof path_buf, "%s/%s", yqt_tmpdir(), name);
    return path_buf;
}

static void write_bytes(const char *path, const void *data, size_t len) {
    assert_int_equal(yq_write_file_atomic(path, data, len), YQ_OK);
}

/* A smooth synthetic RGB image (JPEG-friendly). */
static void make_gradient(yq_image *img, int w, int h) {
    assert_int_equal(yq_image_alloc(img, w, h, 3), YQ_OK);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img->px + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(x * 255 / (w - 1));
            p[1] = (uint8_t)(y * 255 / (h - 1));
            p[2] = (uint8_t)((x + y) * 127 / (w + h - 2) + 64);
        }
}

/* JPEG bytes of img (quality 95, 4:4:4); free with tjFree. */
static unsigned char *encode_jpeg(const yq_image *img, int pixfmt, unsigned long *len) {
    tjhandle tj = tjInitCompress();
    assert_non_null(tj);
    unsigned char *buf = NULL;
    *len = 0;
    assert_int_equal(tjCompress2(tj, img->px, img->w, 0, img->h, pixfmt, &buf, len, TJSAMP_444, 95, 0), 0);
    tjDestroy(tj);
    return buf;
}

static void assert_error_mentions(const char *needle) {
    const char *msg = yq_last_error();
    if (!strstr(msg, needle)) fail_msg("error message \"%s\" does not mention \"%s\"", msg, needle);
}

static void test_png_roundtrip(void **state) {
    (void)state;
    yq_image img, back;
    assert_int_equal(yq_image_alloc(&img, 37, 23, 3), YQ_OK);
    for (size_t i = 0; i < (size_t)37 * 23 * 3; i++) img.px[i] = (uint8_t)(i * 7919 % 251);
    const char *p = tmp_path("rgb.png");
    assert_int_equal(yq_image_save_png(p, &img), YQ_OK);
    assert_int_equal(yq_image_load(p, &back), YQ_OK);
    assert_int_equal(back.w, 37);
    assert_int_equal(back.h, 23);
    assert_int_equal(back.c, 3);
    assert_memory_equal(back.px, img.px, (size_t)37 * 23 * 3);
    yq_image_free(&back);
    yq_image_free(&img);

    /* gray is replicated into RGB; RGBA loses its alpha (as cv2.imread does) */
    yq_image gray, rgba;
    assert_int_equal(yq_image_alloc(&gray, 5, 4, 1), YQ_OK);
    for (int i = 0; i < 20; i++) gray.px[i] = (uint8_t)(i * 13);
    assert_int_equal(yq_image_save_png(tmp_path("gray.png"), &gray), YQ_OK);
    assert_int_equal(yq_image_load(tmp_path("gray.png"), &back), YQ_OK);
    assert_int_equal(back.c, 3);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(back.px[3 * i], gray.px[i]);
        assert_int_equal(back.px[3 * i + 1], gray.px[i]);
        assert_int_equal(back.px[3 * i + 2], gray.px[i]);
    }
    yq_image_free(&back);
    assert_int_equal(yq_image_alloc(&rgba, 3, 2, 4), YQ_OK);
    for (int i = 0; i < 24; i++) rgba.px[i] = (uint8_t)(i * 10);
    assert_int_equal(yq_image_save_png(tmp_path("rgba.png"), &rgba), YQ_OK);
    assert_int_equal(yq_image_load(tmp_path("rgba.png"), &back), YQ_OK);
    assert_int_equal(back.c, 3);
    for (int i = 0; i < 6; i++) assert_memory_equal(back.px + 3 * i, rgba.px + 4 * i, 3);
    yq_image_free(&back);
    yq_image_free(&gray);
    yq_image_free(&rgba);

    /* written through a temporary renamed into place: none is left behind */
    DIR *dir = opendir(yqt_tmpdir());
    assert_non_null(dir);
    for (struct dirent *e; (e = readdir(dir));)
        if (strstr(e->d_name, "tmp")) fail_msg("temporary file left: %s", e->d_name);
    closedir(dir);
    /* a folder that does not exist is an error naming the path */
    assert_int_equal(yq_image_alloc(&img, 2, 2, 3), YQ_OK);
    assert_int_equal(yq_image_save_png(tmp_path("no-such-dir/x.png"), &img), YQ_ERR_IO);
    assert_error_mentions("no-such-dir/x.png");
    yq_image_free(&img);
}

static void test_jpeg_decode(void **state) {
    (void)state;
    yq_image img, back;
    make_gradient(&img, 64, 48);
    unsigned long len;
    unsigned char *jpg = encode_jpeg(&img, TJPF_RGB, &len);
    assert_int_equal(yq_image_decode(jpg, len, "mem.jpg", 0, &back), YQ_OK);
    assert_int_equal(back.w, 64);
    assert_int_equal(back.h, 48);
    assert_int_equal(back.c, 3);
    /* lossy: a smooth gradient at quality 95 stays within a few levels */
    long sum = 0;
    int worst = 0;
    for (size_t i = 0; i < (size_t)64 * 48 * 3; i++) {
        int d = abs((int)back.px[i] - (int)img.px[i]);
        sum += d;
        if (d > worst) worst = d;
    }
    assert_true(sum < 2L * 64 * 48 * 3); /* mean |diff| < 2 */
    assert_true(worst <= 12);
    yq_image_free(&back);
    /* the same bytes from a file (format by magic bytes, not by the extension) */
    write_bytes(tmp_path("actually-a-jpeg.png"), jpg, len);
    assert_int_equal(yq_image_load(tmp_path("actually-a-jpeg.png"), &back), YQ_OK);
    assert_int_equal(back.w, 64);
    yq_image_free(&back);
    tjFree(jpg);
    yq_image_free(&img);
}

static void test_decode_errors(void **state) {
    (void)state;
    yq_image img, out;
    const char *missing = tmp_path("missing.jpg");
    assert_int_equal(yq_image_load(missing, &out), YQ_ERR_IO);
    assert_error_mentions("missing.jpg");
    assert_null(out.px);

    write_bytes(tmp_path("empty.jpg"), "", 0);
    assert_int_equal(yq_image_load(tmp_path("empty.jpg"), &out), YQ_ERR_PARSE);
    assert_error_mentions("empty.jpg");

    const char text[] = "this is a text file, not an image\n";
    write_bytes(tmp_path("notes.jpg"), text, sizeof text - 1);
    assert_int_equal(yq_image_load(tmp_path("notes.jpg"), &out), YQ_ERR_PARSE);
    assert_error_mentions("notes.jpg");
    assert_error_mentions("not a JPEG or PNG");

    unsigned char garbage[512];
    for (int i = 0; i < 512; i++) garbage[i] = (uint8_t)(i * 151 + 7);
    garbage[0] = 0xFF, garbage[1] = 0xD8, garbage[2] = 0xFF; /* JPEG magic, then noise */
    write_bytes(tmp_path("garbage.jpg"), garbage, sizeof garbage);
    assert_int_equal(yq_image_load(tmp_path("garbage.jpg"), &out), YQ_ERR_PARSE);
    assert_error_mentions("garbage.jpg");
    assert_null(out.px);

    /* truncated: the first 60% of a valid JPEG */
    make_gradient(&img, 96, 64);
    unsigned long len;
    unsigned char *jpg = encode_jpeg(&img, TJPF_RGB, &len);
    write_bytes(tmp_path("truncated.jpg"), jpg, len * 6 / 10);
    assert_int_equal(yq_image_load(tmp_path("truncated.jpg"), &out), YQ_ERR_PARSE);
    assert_error_mentions("truncated.jpg");
    assert_error_mentions("corrupt or truncated JPEG data");
    assert_null(out.px);
    /* cut inside the header */
    write_bytes(tmp_path("header-only.jpg"), jpg, 40);
    assert_int_equal(yq_image_load(tmp_path("header-only.jpg"), &out), YQ_ERR_PARSE);
    assert_error_mentions("header-only.jpg");
    assert_error_mentions("truncated JPEG header");
    tjFree(jpg);

    /* truncated PNG */
    assert_int_equal(yq_image_save_png(tmp_path("full.png"), &img), YQ_OK);
    unsigned char *png;
    size_t plen;
    assert_int_equal(yq_read_file(tmp_path("full.png"), &png, &plen), YQ_OK);
    write_bytes(tmp_path("truncated.png"), png, plen / 2);
    assert_int_equal(yq_image_load(tmp_path("truncated.png"), &out), YQ_ERR_PARSE);
    assert_error_mentions("truncated.png");
    assert_error_mentions("corrupt or truncated PNG data");
    free(png);
    yq_image_free(&img);
}

/* Standard CRC-32 (PNG chunk checksums) for hand-made PNG headers. */
static uint32_t crc32_bytes(const unsigned char *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xFFFFFFFFu;
}

static void put32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8),
    p[3] = (unsigned char)v;
}

static void test_decompression_bombs(void **state) {
    (void)state;
    yq_image out;
    /* PNG whose IHDR claims 20000 x 20000 (valid CRC, no data needed to refuse it) */
    unsigned char png[8 + 25] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    unsigned char *ihdr = png + 8;
    put32(ihdr, 13);
    memcpy(ihdr + 4, "IHDR", 4);
    put32(ihdr + 8, 20000);
    put32(ihdr + 12, 20000);
    ihdr[16] = 8, ihdr[17] = 2, ihdr[18] = 0, ihdr[19] = 0, ihdr[20] = 0;
    put32(ihdr + 21, crc32_bytes(ihdr + 4, 17));
    write_bytes(tmp_path("bomb.png"), png, sizeof png);
    assert_int_equal(yq_image_load(tmp_path("bomb.png"), &out), YQ_ERR_LIMIT);
    assert_error_mentions("bomb.png");
    assert_error_mentions("20000x20000");

    /* JPEG whose SOF claims 16000 x 16000: 256 Mpixel, beyond the pixel limit */
    yq_image img;
    make_gradient(&img, 16, 16);
    unsigned long len;
    unsigned char *jpg = encode_jpeg(&img, TJPF_RGB, &len);
    int patched = 0;
    for (unsigned long i = 2; i + 9 < len; i++)
        if (jpg[i] == 0xFF && jpg[i + 1] == 0xC0) { /* SOF0: FF C0 len(2) P(1) H(2) W(2) */
            jpg[i + 5] = 16000 >> 8, jpg[i + 6] = 16000 & 0xFF;
            jpg[i + 7] = 16000 >> 8, jpg[i + 8] = 16000 & 0xFF;
            patched = 1;
            break;
        }
    assert_true(patched);
    write_bytes(tmp_path("bomb.jpg"), jpg, len);
    assert_int_equal(yq_image_load(tmp_path("bomb.jpg"), &out), YQ_ERR_LIMIT);
    assert_error_mentions("bomb.jpg");
    assert_null(out.px);
    tjFree(jpg);
    yq_image_free(&img);
}

/* JPEG bytes with an EXIF APP1 segment carrying `orientation`, inserted after SOI. */
static unsigned char *with_exif(const unsigned char *jpg, unsigned long len, int orientation, int little_endian,
                                size_t *out_len) {
    unsigned char app1[2 + 2 + 6 + 8 + 2 + 12 + 4];
    size_t n = 0;
    app1[n++] = 0xFF, app1[n++] = 0xE1;
    const size_t seglen = sizeof app1 - 2;
    app1[n++] = (unsigned char)(seglen >> 8), app1[n++] = (unsigned char)seglen;
    memcpy(app1 + n, "Exif\0\0", 6), n += 6;
    unsigned char *t = app1 + n;
#define W16(p, v) (little_endian ? ((p)[0] = (unsigned char)(v), (p)[1] = (unsigned char)((v) >> 8)) \
                                 : ((p)[0] = (unsigned char)((v) >> 8), (p)[1] = (unsigned char)(v)))
#define W32(p, v) (little_endian ? (W16(p, (v)&0xFFFF), W16((p) + 2, (v) >> 16)) : (W16(p, (v) >> 16), W16((p) + 2, (v)&0xFFFF)))
    t[0] = t[1] = little_endian ? 'I' : 'M';
    W16(t + 2, 42);
    W32(t + 4, 8);          /* IFD0 at offset 8 */
    W16(t + 8, 1);          /* one entry */
    W16(t + 10, 0x0112);    /* Orientation */
    W16(t + 12, 3);         /* SHORT */
    W32(t + 14, 1);         /* count */
    W16(t + 18, orientation);
    W16(t + 20, 0);
    W32(t + 22, 0);         /* no next IFD */
#undef W16
#undef W32
    unsigned char *out = malloc(len + sizeof app1);
    assert_non_null(out);
    memcpy(out, jpg, 2);
    memcpy(out + 2, app1, sizeof app1);
    memcpy(out + 2 + sizeof app1, jpg + 2, len - 2);
    *out_len = len + sizeof app1;
    return out;
}

static void test_exif_orientation(void **state) {
    (void)state;
    /* apply_orientation on a 3x2 gray image with values 1..6:
     *   1 2 3
     *   4 5 6 */
    static const struct {
        int orientation, w, h;
        uint8_t px[6];
    } cases[] = {
        {1, 3, 2, {1, 2, 3, 4, 5, 6}}, {2, 3, 2, {3, 2, 1, 6, 5, 4}}, {3, 3, 2, {6, 5, 4, 3, 2, 1}},
        {4, 3, 2, {4, 5, 6, 1, 2, 3}}, {5, 2, 3, {1, 4, 2, 5, 3, 6}}, {6, 2, 3, {4, 1, 5, 2, 6, 3}},
        {7, 2, 3, {6, 3, 5, 2, 4, 1}}, {8, 2, 3, {3, 6, 2, 5, 1, 4}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        yq_image img;
        assert_int_equal(yq_image_alloc(&img, 3, 2, 1), YQ_OK);
        for (int k = 0; k < 6; k++) img.px[k] = (uint8_t)(k + 1);
        assert_int_equal(yq_image_apply_orientation(&img, cases[i].orientation), YQ_OK);
        assert_int_equal(img.w, cases[i].w);
        assert_int_equal(img.h, cases[i].h);
        assert_memory_equal(img.px, cases[i].px, 6);
        yq_image_free(&img);
    }

    /* end to end: a JPEG tagged "rotate 90 clockwise" (6) loads rotated, like cv2.imread */
    yq_image img, raw, rot;
    make_gradient(&img, 40, 24);
    unsigned long len;
    unsigned char *jpg = encode_jpeg(&img, TJPF_RGB, &len);
    for (int le = 0; le < 2; le++) {
        size_t tagged_len;
        unsigned char *tagged = with_exif(jpg, len, 6, le, &tagged_len);
        assert_int_equal(yq_jpeg_exif_orientation(tagged, tagged_len), 6);
        assert_int_equal(yq_image_decode(tagged, tagged_len, "exif.jpg", YQ_IMAGE_IGNORE_ORIENTATION, &raw), YQ_OK);
        assert_int_equal(yq_image_decode(tagged, tagged_len, "exif.jpg", 0, &rot), YQ_OK);
        assert_int_equal(raw.w, 40);
        assert_int_equal(rot.w, 24);
        assert_int_equal(rot.h, 40);
        for (int y = 0; y < rot.h; y++)
            for (int x = 0; x < rot.w; x++) /* out(x, y) = raw(y, H-1-x) */
                assert_memory_equal(rot.px + ((size_t)y * rot.w + x) * 3,
                                    raw.px + ((size_t)(raw.h - 1 - x) * raw.w + y) * 3, 3);
        yq_image_free(&raw);
        yq_image_free(&rot);
        free(tagged);
    }
    assert_int_equal(yq_jpeg_exif_orientation(jpg, len), 1);
    tjFree(jpg);
    yq_image_free(&img);
}

static void test_cmyk_jpeg(void **state) {
    (void)state;
    /* A flat CMYK colour; OpenCV's reader maps (c, m, y, k) to
     * R = k - (255-c)*k/256, G = k - (255-m)*k/256, B = k - (255-y)*k/256 (>> 8). */
    yq_image cmyk, out;
    assert_int_equal(yq_image_alloc(&cmyk, 16, 16, 4), YQ_OK);
    const uint8_t c = 200, m = 100, y = 50, k = 220;
    for (int i = 0; i < 256; i++) cmyk.px[4 * i] = c, cmyk.px[4 * i + 1] = m, cmyk.px[4 * i + 2] = y, cmyk.px[4 * i + 3] = k;
    unsigned long len;
    unsigned char *jpg = encode_jpeg(&cmyk, TJPF_CMYK, &len);
    assert_int_equal(yq_image_decode(jpg, len, "cmyk.jpg", 0, &out), YQ_OK);
    assert_int_equal(out.c, 3);
    const int er = k - (((255 - c) * k) >> 8), eg = k - (((255 - m) * k) >> 8), eb = k - (((255 - y) * k) >> 8);
    /* tolerance 3: JPEG rounding of a flat colour */
    for (int i = 0; i < 256; i++) {
        assert_true(abs(out.px[3 * i] - er) <= 3);
        assert_true(abs(out.px[3 * i + 1] - eg) <= 3);
        assert_true(abs(out.px[3 * i + 2] - eb) <= 3);
    }
    yq_image_free(&out);
    tjFree(jpg);
    yq_image_free(&cmyk);
}

/* Every shared COCO image decodes without a warning (the decoder treats them as errors). */
static void test_shared_images_decode(void **state) {
    (void)state;
    YQT_REQUIRE_SHARED();
    const char *list = yqt_shared_path("data/coco/val216.txt");
    unsigned char *txt;
    size_t len;
    if (yq_read_file(list, &txt, &len) != YQ_OK) skip();
    char *save = NULL;
    int n = 0;
    for (char *line = strtok_r((char *)txt, "\n", &save); line && n < 40; line = strtok_r(NULL, "\n", &save)) {
        char p[4096];
        snprintf(p, sizeof p, "%s/data/coco/%s", yqt_shared_dir(), line[0] == '.' && line[1] == '/' ? line + 2 : line);
        yq_image img;
        if (yq_image_load(p, &img) != YQ_OK) fail_msg("%s", yq_last_error());
        assert_int_equal(img.c, 3);
        yq_image_free(&img);
        n++;
    }
    assert_true(n > 0);
    free(txt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_roundtrip),         cmocka_unit_test(test_jpeg_decode),
        cmocka_unit_test(test_decode_errors),         cmocka_unit_test(test_decompression_bombs),
        cmocka_unit_test(test_exif_orientation),      cmocka_unit_test(test_cmyk_jpeg),
        cmocka_unit_test(test_shared_images_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
