/* TensorProto <-> memory format, external data, and single-tensor files.
 *
 * File layout (ONNX): raw_data is little-endian and dense; INT4/UINT4 pack two
 * values per byte, low nibble first. The typed fields hold one element per
 * entry (int32_data: one byte-sized or 16-bit value, bit patterns for
 * float16/bfloat16; for 4-bit types one packed byte per entry), except
 * UINT32/UINT64 which use uint64_data.
 * Memory layout (core/tensor.h): dense, host order, 4-bit unpacked to one byte
 * per value, INT4 sign-extended. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "onnx/onnx.h"
#include "onnx/onnx_internal.h"

#if !defined(__BYTE_ORDER__) || (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__ && __BYTE_ORDER__ != __ORDER_BIG_ENDIAN__)
#error "unknown byte order"
#endif
#define HOST_IS_LITTLE_ENDIAN (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)

/* "<file>: <what>: <message>" */
static yq_status __attribute__((format(printf, 4, 5)))
tensor_fail(yq_status st, const char *file, const char *what, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return yq_fail(st, "%s: %s: %s", file, what, msg);
}

size_t yq_onnx_file_bytes(yq_dtype dt, int64_t numel) {
    if (yq_dtype_file_bits(dt) == 4) return (size_t)(numel / 2 + numel % 2);
    return (size_t)numel * yq_dtype_size(dt);
}

char *yq_onnx_dirname(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return yq_strdup(".");
    if (slash == path) return yq_strdup("/");
    size_t n = (size_t)(slash - path);
    char *d = yq_malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, path, n);
    d[n] = 0;
    return d;
}

/* Reverse the bytes of each element (big-endian hosts only). */
static void __attribute__((unused)) swap_elements(uint8_t *p, size_t nbytes, size_t elem) {
    if (elem < 2) return;
    for (size_t off = 0; off + elem <= nbytes; off += elem)
        for (size_t a = 0, b = elem - 1; a < b; a++, b--) {
            uint8_t t = p[off + a];
            p[off + a] = p[off + b];
            p[off + b] = t;
        }
}

/* Value `high` (0: low nibble, 1: high nibble) of a packed byte, as stored in
 * memory: UINT4 0..15; INT4 sign-extended (8..15 are -8..-1), as int8_t bits. */
static inline uint8_t unpack_nibble(yq_dtype dt, uint8_t byte, int high) {
    unsigned nib = high ? (unsigned)(byte >> 4) : (unsigned)(byte & 15);
    return dt == YQ_DT_INT4 ? (uint8_t)(int8_t)((int)(nib ^ 8) - 8) : (uint8_t)nib;
}

/* Little-endian file bytes -> memory format. */
static void raw_to_memory(yq_dtype dt, const uint8_t *src, int64_t numel, size_t nbytes, void *dst) {
    if (yq_dtype_file_bits(dt) == 4) {
        for (int64_t i = 0; i < numel; i++) ((uint8_t *)dst)[i] = unpack_nibble(dt, src[i >> 1], (int)(i & 1));
        return;
    }
    if (nbytes) memcpy(dst, src, nbytes);
#if !HOST_IS_LITTLE_ENDIAN
    swap_elements(dst, nbytes, yq_dtype_size(dt));
#endif
}

/* ---- external data ------------------------------------------------------------ */

static int parse_nonneg(const char *s, long long *out) {
    if (!s || !*s) return 0;
    long long v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return 0;
        if (v > (INT64_MAX - (*s - '0')) / 10) return 0;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return 1;
}

/* A location may only name a file at or below the model's folder. */
static yq_status check_location(const char *loc, const char *file, const char *what) {
    if (loc[0] == '/' || loc[0] == '\\' || (loc[0] && loc[1] == ':'))
        return tensor_fail(YQ_ERR_INVALID, file, what,
                           "external data location '%s' is an absolute path; it must be relative to the model's folder",
                           loc);
    for (const char *p = loc; *p;) {
        size_t n = strcspn(p, "/\\");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return tensor_fail(YQ_ERR_INVALID, file, what,
                               "external data location '%s' leaves the model's folder ('..' is not allowed)", loc);
        p += n;
        if (*p) p++;
    }
    return YQ_OK;
}

static yq_status read_external(const Onnx__TensorProto *tp, const char *file, const char *base_dir, const char *what,
                               size_t need, uint8_t **buf_out, char **loc_out) {
    const char *loc = NULL;
    long long offset = 0, length = -1;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const Onnx__StringStringEntryProto *e = tp->external_data[i];
        if (!e->key) continue;
        if (strcmp(e->key, "location") == 0) {
            loc = e->value;
        } else if (strcmp(e->key, "offset") == 0) {
            if (!parse_nonneg(e->value, &offset))
                return tensor_fail(YQ_ERR_INVALID, file, what, "external data offset '%s' is not a non-negative number",
                                   e->value ? e->value : "");
        } else if (strcmp(e->key, "length") == 0) {
            if (!parse_nonneg(e->value, &length))
                return tensor_fail(YQ_ERR_INVALID, file, what, "external data length '%s' is not a non-negative number",
                                   e->value ? e->value : "");
        } /* "checksum" and unknown keys: not needed to read the data */
    }
    if (!loc || !*loc)
        return tensor_fail(YQ_ERR_INVALID, file, what, "data_location is EXTERNAL but external_data has no location");
    YQ_TRY(check_location(loc, file, what));
    if (!base_dir)
        return tensor_fail(YQ_ERR_INVALID, file, what,
                           "data is in external file '%s', but the model was read from memory without a folder to "
                           "look for it in",
                           loc);
    if (length >= 0 && (unsigned long long)length != need)
        return tensor_fail(YQ_ERR_INVALID, file, what,
                           "external data length %lld does not match the %zu bytes its dims and type need", length,
                           need);
    size_t plen = strlen(base_dir) + strlen(loc) + 2;
    char *path = yq_malloc(plen);
    if (!path) return YQ_ERR_NOMEM;
    snprintf(path, plen, "%s/%s", base_dir, loc);
    /* The name stays inside the folder; a symbolic link in it must not lead
     * out of it either. (A missing file is reported by open below.) */
    char *real_base = realpath(base_dir, NULL), *real_path = realpath(path, NULL);
    if (real_base && real_path) {
        size_t nb = strlen(real_base);
        int inside = strncmp(real_path, real_base, nb) == 0 && (real_path[nb] == '/' || real_base[nb - 1] == '/');
        if (!inside) {
            yq_status st = tensor_fail(YQ_ERR_INVALID, file, what,
                                       "external data location '%s' resolves to '%s', outside the model's folder '%s' "
                                       "(through a symbolic link)",
                                       loc, real_path, real_base);
            free(real_base);
            free(real_path);
            free(path);
            return st;
        }
    }
    free(real_base);
    free(real_path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        yq_status st = tensor_fail(YQ_ERR_IO, file, what, "cannot open external data file '%s': %s", path,
                                   strerror(errno));
        free(path);
        return st;
    }
    struct stat sb;
    yq_status st = YQ_OK;
    uint8_t *buf = NULL;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = tensor_fail(YQ_ERR_IO, file, what, "external data file '%s' is not a regular file", path);
        goto out;
    }
    if ((unsigned long long)offset > (unsigned long long)sb.st_size ||
        need > (unsigned long long)sb.st_size - (unsigned long long)offset) {
        st = tensor_fail(YQ_ERR_INVALID, file, what,
                         "external data file '%s' holds %lld bytes; the tensor needs %zu bytes at offset %lld", path,
                         (long long)sb.st_size, need, offset);
        goto out;
    }
    buf = yq_malloc(need);
    if (!buf) {
        st = YQ_ERR_NOMEM;
        goto out;
    }
    for (size_t done = 0; done < need;) {
        ssize_t r = pread(fd, buf + done, need - done, (off_t)offset + (off_t)done);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            st = tensor_fail(YQ_ERR_IO, file, what, "reading external data file '%s' failed: %s", path,
                             r < 0 ? strerror(errno) : "unexpected end of file");
            goto out;
        }
        done += (size_t)r;
    }
    if (loc_out && !(*loc_out = yq_strdup(loc))) st = YQ_ERR_NOMEM;
out:
    close(fd);
    free(path);
    if (st != YQ_OK) {
        free(buf);
        return st;
    }
    *buf_out = buf;
    return YQ_OK;
}

/* ---- decode ----------------------------------------------------------------------- */

/* The typed field that holds elements of dt, its name and entry count. */
static const char *typed_field(const Onnx__TensorProto *tp, yq_dtype dt, size_t *count) {
    switch (dt) {
    case YQ_DT_FLOAT: *count = tp->n_float_data; return "float_data";
    case YQ_DT_DOUBLE: *count = tp->n_double_data; return "double_data";
    case YQ_DT_INT64: *count = tp->n_int64_data; return "int64_data";
    case YQ_DT_UINT32: case YQ_DT_UINT64: *count = tp->n_uint64_data; return "uint64_data";
    default: *count = tp->n_int32_data; return "int32_data";
    }
}

static void typed_to_memory(const Onnx__TensorProto *tp, yq_dtype dt, int64_t numel, void *dst) {
    if (numel == 0) return; /* the field may be a NULL array */
    switch (dt) {
    case YQ_DT_FLOAT: memcpy(dst, tp->float_data, (size_t)numel * 4); return;
    case YQ_DT_DOUBLE: memcpy(dst, tp->double_data, (size_t)numel * 8); return;
    case YQ_DT_INT64: memcpy(dst, tp->int64_data, (size_t)numel * 8); return;
    case YQ_DT_UINT64: memcpy(dst, tp->uint64_data, (size_t)numel * 8); return;
    case YQ_DT_INT32: memcpy(dst, tp->int32_data, (size_t)numel * 4); return;
    case YQ_DT_UINT32:
        for (int64_t i = 0; i < numel; i++) ((uint32_t *)dst)[i] = (uint32_t)tp->uint64_data[i];
        return;
    case YQ_DT_INT16: case YQ_DT_UINT16: case YQ_DT_FLOAT16: case YQ_DT_BFLOAT16:
        /* the low 16 bits are the value's bit pattern */
        for (int64_t i = 0; i < numel; i++) ((uint16_t *)dst)[i] = (uint16_t)(uint32_t)tp->int32_data[i];
        return;
    case YQ_DT_INT4: case YQ_DT_UINT4: /* one packed byte per entry */
        for (int64_t i = 0; i < numel; i++)
            ((uint8_t *)dst)[i] = unpack_nibble(dt, (uint8_t)(uint32_t)tp->int32_data[i >> 1], (int)(i & 1));
        return;
    default: /* INT8, UINT8, BOOL: the low byte */
        for (int64_t i = 0; i < numel; i++) ((uint8_t *)dst)[i] = (uint8_t)(uint32_t)tp->int32_data[i];
        return;
    }
}

yq_status yq_onnx_tensor_decode(Onnx__TensorProto *tp, const char *file, const char *base_dir, const char *what,
                                yq_tensor *out, size_t *nbytes_out, char **ext_location) {
    memset(out, 0, sizeof *out);
    if (ext_location) *ext_location = NULL;
    if (!tp->has_data_type || tp->data_type == YQ_DT_UNDEFINED)
        return tensor_fail(YQ_ERR_INVALID, file, what, "tensor has no data_type");
    int code = tp->data_type;
    if (code < 0 || code >= YQ_DT_COUNT || yq_dtype_size((yq_dtype)code) == 0)
        return tensor_fail(YQ_ERR_UNSUPPORTED, file, what, "element type %s (%d) is not supported by yoloq",
                           yq_dtype_name((yq_dtype)code), code);
    yq_dtype dt = (yq_dtype)code;
    if (tp->n_dims > YQ_MAX_RANK)
        return tensor_fail(YQ_ERR_LIMIT, file, what, "rank %zu exceeds yoloq's limit of %d dims", tp->n_dims,
                           YQ_MAX_RANK);
    int rank = (int)tp->n_dims;
    int64_t numel = 1;
    char dims_buf[256];
    for (int d = 0; d < rank; d++) {
        int64_t dim = tp->dims[d];
        if (dim < 0)
            return tensor_fail(YQ_ERR_INVALID, file, what, "negative dim %lld in dims %s", (long long)dim,
                               yq_dims_str(rank, tp->dims, dims_buf, sizeof dims_buf));
        if (dim && numel > INT64_MAX / dim)
            return tensor_fail(YQ_ERR_LIMIT, file, what, "the element count of dims %s overflows",
                               yq_dims_str(rank, tp->dims, dims_buf, sizeof dims_buf));
        numel *= dim;
    }
    size_t nbytes;
    yq_status st = yq_dtype_bytes(dt, numel, &nbytes);
    if (st != YQ_OK) return yq_fail_prefix(st, "%s: %s", file, what);
    yq_dims_str(rank, tp->dims, dims_buf, sizeof dims_buf);
    size_t file_bytes = yq_onnx_file_bytes(dt, numel);
    int four_bit = yq_dtype_file_bits(dt) == 4;
    void *data = NULL;

    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        uint8_t *ext = NULL;
        YQ_TRY(read_external(tp, file, base_dir, what, file_bytes, &ext, ext_location));
        if (!four_bit && HOST_IS_LITTLE_ENDIAN) {
            data = ext; /* the file layout is the memory layout */
        } else {
            data = yq_malloc(nbytes);
            if (data) raw_to_memory(dt, ext, numel, nbytes, data);
            free(ext);
        }
    } else if (tp->has_raw_data) {
        if (tp->raw_data.len != file_bytes)
            return tensor_fail(YQ_ERR_INVALID, file, what,
                               "raw_data holds %zu bytes, but dims %s of %s need %zu bytes", tp->raw_data.len,
                               dims_buf, yq_dtype_name(dt), file_bytes);
        if (!four_bit && HOST_IS_LITTLE_ENDIAN && tp->raw_data.data) {
            /* take the buffer over instead of copying (the allocator is malloc) */
            data = tp->raw_data.data;
            tp->raw_data.data = NULL;
            tp->raw_data.len = 0;
            tp->has_raw_data = 0;
        } else {
            data = yq_malloc(nbytes);
            if (data) raw_to_memory(dt, tp->raw_data.data, numel, nbytes, data);
        }
    } else {
        size_t count;
        const char *field = typed_field(tp, dt, &count);
        size_t want = four_bit ? file_bytes : (size_t)numel;
        if (count != want) {
            if (count == 0)
                return tensor_fail(YQ_ERR_INVALID, file, what,
                                   "tensor has no data (no raw_data, no %s, not external), but dims %s of %s need "
                                   "%zu values",
                                   field, dims_buf, yq_dtype_name(dt), want);
            return tensor_fail(YQ_ERR_INVALID, file, what, "%s holds %zu values, but dims %s of %s need %zu", field,
                               count, dims_buf, yq_dtype_name(dt), want);
        }
        data = yq_malloc(nbytes);
        if (data) typed_to_memory(tp, dt, numel, data);
    }
    if (!data) {
        if (ext_location) {
            free(*ext_location);
            *ext_location = NULL;
        }
        return YQ_ERR_NOMEM;
    }
    out->dtype = dt;
    out->rank = rank;
    for (int d = 0; d < rank; d++) out->dims[d] = tp->dims[d];
    out->data = data;
    *nbytes_out = nbytes;
    return YQ_OK;
}

/* ---- encode ----------------------------------------------------------------------- */

yq_status yq_onnx_tensor_encode(const yq_tensor *t, size_t nbytes_in_memory, const char *name, Onnx__TensorProto *tp,
                                uint8_t **scratch, const char *file, const char *what) {
    *scratch = NULL;
    yq_dtype dt = t->dtype;
    if (yq_dtype_size(dt) == 0)
        return tensor_fail(YQ_ERR_UNSUPPORTED, file, what, "element type %s (%d) cannot be written",
                           yq_dtype_name(dt), (int)dt);
    if (t->rank < 0 || t->rank > YQ_MAX_RANK)
        return tensor_fail(YQ_ERR_INTERNAL, file, what, "tensor rank %d is out of range", t->rank);
    char dims_buf[256];
    int64_t numel = 1;
    for (int d = 0; d < t->rank; d++) {
        if (t->dims[d] < 0)
            return tensor_fail(YQ_ERR_INTERNAL, file, what, "constant with unknown or negative dims %s",
                               yq_dims_str(t->rank, t->dims, dims_buf, sizeof dims_buf));
        if (t->dims[d] && numel > INT64_MAX / t->dims[d])
            return tensor_fail(YQ_ERR_LIMIT, file, what, "the element count of dims %s overflows",
                               yq_dims_str(t->rank, t->dims, dims_buf, sizeof dims_buf));
        numel *= t->dims[d];
    }
    size_t nbytes;
    yq_status st = yq_dtype_bytes(dt, numel, &nbytes);
    if (st != YQ_OK) return yq_fail_prefix(st, "%s: %s", file, what);
    if (nbytes_in_memory != (size_t)-1 && nbytes_in_memory != nbytes)
        return tensor_fail(YQ_ERR_INTERNAL, file, what, "holds %zu bytes, but dims %s of %s need %zu",
                           nbytes_in_memory, yq_dims_str(t->rank, t->dims, dims_buf, sizeof dims_buf),
                           yq_dtype_name(dt), nbytes);
    if (nbytes && !t->data) return tensor_fail(YQ_ERR_INTERNAL, file, what, "constant has no data");
    tp->name = (char *)name;
    tp->n_dims = (size_t)t->rank;
    tp->dims = (int64_t *)t->dims;
    tp->has_data_type = 1;
    tp->data_type = (int32_t)dt;
    tp->has_raw_data = 1;
    if (yq_dtype_file_bits(dt) == 4) {
        size_t fb = yq_onnx_file_bytes(dt, numel);
        uint8_t *packed = yq_calloc(fb ? fb : 1, 1);
        if (!packed) return YQ_ERR_NOMEM;
        const uint8_t *src = t->data;
        for (int64_t i = 0; i < numel; i++) packed[i >> 1] |= (uint8_t)((src[i] & 15) << ((i & 1) * 4));
        *scratch = packed;
        tp->raw_data.data = packed;
        tp->raw_data.len = fb;
    } else if (HOST_IS_LITTLE_ENDIAN) {
        tp->raw_data.data = (uint8_t *)t->data; /* borrowed: the layouts agree */
        tp->raw_data.len = nbytes;
    } else {
        uint8_t *copy = yq_malloc(nbytes);
        if (!copy) return YQ_ERR_NOMEM;
        if (nbytes) memcpy(copy, t->data, nbytes);
        swap_elements(copy, nbytes, yq_dtype_size(dt));
        *scratch = copy;
        tp->raw_data.data = copy;
        tp->raw_data.len = nbytes;
    }
    return YQ_OK;
}

/* ---- single-tensor files ------------------------------------------------------------ */

yq_status yq_onnx_load_tensor_file(const char *path, yq_tensor *out, char **name_out) {
    memset(out, 0, sizeof *out);
    if (name_out) *name_out = NULL;
    unsigned char *buf;
    size_t len;
    YQ_TRY(yq_read_file(path, &buf, &len));
    ProtobufCMessage *m;
    yq_status st = yq_onnx_unpack(buf, len, &onnx__tensor_proto__descriptor, path, "tensor", &m);
    free(buf);
    if (st != YQ_OK) return st;
    Onnx__TensorProto *tp = (Onnx__TensorProto *)m;
    char *dir = yq_onnx_dirname(path);
    char what[256];
    snprintf(what, sizeof what, "tensor '%.200s'", tp->name ? tp->name : "");
    size_t nbytes;
    st = dir ? yq_onnx_tensor_decode(tp, path, dir, what, out, &nbytes, NULL) : YQ_ERR_NOMEM;
    free(dir);
    if (st == YQ_OK && name_out && !(*name_out = yq_strdup(tp->name ? tp->name : ""))) {
        free(out->data);
        memset(out, 0, sizeof *out);
        st = YQ_ERR_NOMEM;
    }
    yq_onnx_free_message(m);
    return st;
}

yq_status yq_onnx_save_tensor_file(const yq_tensor *t, const char *name, const char *path) {
    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    uint8_t *scratch = NULL;
    char what[256];
    snprintf(what, sizeof what, "tensor '%.200s'", name ? name : "");
    YQ_TRY(yq_onnx_tensor_encode(t, (size_t)-1, name && *name ? name : NULL, &tp, &scratch, path, what));
    size_t len = onnx__tensor_proto__get_packed_size(&tp);
    uint8_t *buf = yq_malloc(len);
    if (!buf) {
        free(scratch);
        return YQ_ERR_NOMEM;
    }
    onnx__tensor_proto__pack(&tp, buf);
    free(scratch);
    yq_status st = yq_write_file_atomic(path, buf, len);
    free(buf);
    return st;
}
