/* protobuf-c plumbing: a guarded unpack (nesting depth and memory checked
 * before/while parsing) and the matching free. */
#include <stdlib.h>

#include "onnx/onnx.h"
#include "onnx/onnx_internal.h"

/* Allocation state for one unpack: protobuf-c turns each length-delimited
 * field into a separately allocated struct, so a small hostile file could
 * expand a lot; the cap bounds that. */
typedef struct alloc_state {
    size_t used, cap;
    int over_cap, out_of_memory;
} alloc_state;

static void *capped_alloc(void *data, size_t size) {
    alloc_state *s = data;
    if (size > s->cap - s->used) {
        s->over_cap = 1;
        return NULL;
    }
    void *p = malloc(size ? size : 1);
    if (!p) {
        s->out_of_memory = 1;
        return NULL;
    }
    s->used += size;
    return p;
}

static void plain_free(void *data, void *p) {
    (void)data;
    free(p);
}

static void *plain_alloc(void *data, size_t size) {
    (void)data;
    return malloc(size ? size : 1);
}

static ProtobufCAllocator plain_allocator = {plain_alloc, plain_free, NULL};

void yq_onnx_free_message(ProtobufCMessage *m) {
    if (m) protobuf_c_message_free_unpacked(m, &plain_allocator);
}

/* ---- nesting check ------------------------------------------------------------
 * protobuf-c unpacks sub-messages recursively without a depth limit, so a file
 * of a few megabytes of nested graphs would overflow the stack. This walks the
 * wire format with the message descriptors (which field numbers are messages)
 * and refuses deeper nesting. It also refuses what protobuf-c would refuse
 * anyway (truncated fields, groups, bad wire types), so a scan that stops early
 * never lets an unchecked part through to the recursive unpack. */

enum { WIRE_OK = 0, WIRE_MALFORMED = 1, WIRE_TOO_DEEP = 2 };

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    uint64_t x = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (*p >= end) return 0;
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 1;
        }
    }
    return 0;
}

static int wire_check(const uint8_t *p, const uint8_t *end, const ProtobufCMessageDescriptor *desc, int depth) {
    if (depth > YQ_ONNX_MAX_NESTING) return WIRE_TOO_DEEP;
    while (p < end) {
        uint64_t key, len;
        if (!read_varint(&p, end, &key)) return WIRE_MALFORMED;
        switch (key & 7) {
        case 0:
            if (!read_varint(&p, end, &len)) return WIRE_MALFORMED;
            break;
        case 1:
            if (end - p < 8) return WIRE_MALFORMED;
            p += 8;
            break;
        case 5:
            if (end - p < 4) return WIRE_MALFORMED;
            p += 4;
            break;
        case 2: {
            if (!read_varint(&p, end, &len) || len > (uint64_t)(end - p)) return WIRE_MALFORMED;
            const uint8_t *sub = p;
            p += len;
            uint64_t number = key >> 3;
            const ProtobufCFieldDescriptor *f =
                (desc && number <= UINT32_MAX) ? protobuf_c_message_descriptor_get_field(desc, (unsigned)number) : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                int r = wire_check(sub, p, f->descriptor, depth + 1);
                if (r != WIRE_OK) return r;
            }
            break;
        }
        default: /* groups (3, 4) and invalid wire types: protobuf-c rejects them */
            return WIRE_MALFORMED;
        }
    }
    return WIRE_OK;
}

yq_status yq_onnx_unpack(const uint8_t *buf, size_t len, const ProtobufCMessageDescriptor *desc,
                         const char *display_name, const char *kind, ProtobufCMessage **out) {
    *out = NULL;
    int wire = wire_check(buf, buf + len, desc, 0);
    if (wire == WIRE_TOO_DEEP)
        return yq_fail(YQ_ERR_LIMIT, "%s: not a valid ONNX %s (messages nested more than %d deep)", display_name, kind,
                       YQ_ONNX_MAX_NESTING);
    if (wire == WIRE_MALFORMED)
        return yq_fail(YQ_ERR_PARSE, "%s: not a valid ONNX %s (protobuf parse failed)", display_name, kind);
    /* generous: real models need about their own size plus small structs */
    alloc_state st = {0, 0, 0, 0};
    st.cap = (len > (SIZE_MAX - ((size_t)256 << 20)) / 16) ? SIZE_MAX : len * 16 + ((size_t)256 << 20);
    ProtobufCAllocator allocator = {capped_alloc, plain_free, &st};
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, &allocator, len, buf);
    if (!m) {
        if (st.out_of_memory)
            return yq_fail(YQ_ERR_NOMEM, "%s: out of memory parsing the ONNX %s", display_name, kind);
        if (st.over_cap)
            return yq_fail(YQ_ERR_LIMIT, "%s: not a valid ONNX %s (parsing it would need more than %zu bytes)",
                           display_name, kind, st.cap);
        return yq_fail(YQ_ERR_PARSE, "%s: not a valid ONNX %s (protobuf parse failed)", display_name, kind);
    }
    *out = m;
    return YQ_OK;
}
