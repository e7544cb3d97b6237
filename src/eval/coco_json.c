#include "eval/coco_json.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "eval/json_io.h"

struct yq_coco_gt {
    yq_coco_image *images; /* ascending id */
    size_t nimages;
    yq_coco_category *cats; /* ascending id */
    size_t ncats;
    yq_coco_annotation *anns; /* file order */
    size_t nanns;
};

/* ---- small cJSON helpers ---------------------------------------------------------------------- */

/* The member named `key`; when a key repeats, the last one wins, as in
 * Python's json module. */
static const cJSON *member(const cJSON *obj, const char *key) {
    const cJSON *found = NULL;
    for (const cJSON *c = obj->child; c; c = c->next)
        if (c->string && strcmp(c->string, key) == 0) found = c;
    return found;
}

static const char *json_type_name(const cJSON *v) {
    if (!v) return "nothing";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    return "an invalid value";
}

static yq_status get_id64(const cJSON *obj, const char *key, const char *name, const char *what, size_t idx,
                          int64_t *out) {
    const cJSON *v = member(obj, key);
    long long x;
    if (!v) return yq_fail(YQ_ERR_INVALID, "%s: %s[%zu] has no \"%s\"", name, what, idx, key);
    if (yq_json_get_int64(v, &x) != 0)
        return yq_fail(YQ_ERR_INVALID, "%s: %s[%zu].%s must be an integer, not %s", name, what, idx, key,
                       cJSON_IsNumber(v) ? "a fraction or a huge number" : json_type_name(v));
    *out = (int64_t)x;
    return YQ_OK;
}

static yq_status get_id32(const cJSON *obj, const char *key, const char *name, const char *what, size_t idx,
                          int *out) {
    int64_t x;
    YQ_TRY(get_id64(obj, key, name, what, idx, &x));
    if (x < INT_MIN || x > INT_MAX)
        return yq_fail(YQ_ERR_INVALID, "%s: %s[%zu].%s = %lld is out of range", name, what, idx, key, (long long)x);
    *out = (int)x;
    return YQ_OK;
}

/* Optional string member: "" when absent; error when present but not a string. */
static yq_status get_opt_string(const cJSON *obj, const char *key, const char *name, const char *what,
                                size_t idx, char **out) {
    const cJSON *v = member(obj, key);
    if (v && !cJSON_IsString(v))
        return yq_fail(YQ_ERR_INVALID, "%s: %s[%zu].%s must be a string, not %s", name, what, idx, key,
                       json_type_name(v));
    *out = yq_strdup(v ? v->valuestring : "");
    return *out ? YQ_OK : YQ_ERR_NOMEM;
}

static yq_status get_bbox(const cJSON *obj, const char *name, const char *what, size_t idx, double bbox[4]) {
    const cJSON *v = member(obj, "bbox");
    if (!v) return yq_fail(YQ_ERR_INVALID, "%s: %s[%zu] has no \"bbox\"", name, what, idx);
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 4)
        return yq_fail(YQ_ERR_INVALID, "%s: %s[%zu].bbox must be an array of 4 numbers [x, y, w, h]", name, what,
                       idx);
    int i = 0;
    for (const cJSON *c = v->child; c; c = c->next, i++) {
        if (!cJSON_IsNumber(c) || !isfinite(c->valuedouble))
            return yq_fail(YQ_ERR_INVALID, "%s: %s[%zu].bbox[%d] must be a finite number, not %s", name, what, idx,
                           i, json_type_name(c));
        bbox[i] = c->valuedouble;
    }
    return YQ_OK;
}

static yq_status get_number(const cJSON *obj, const char *key, const char *name, const char *what, size_t idx,
                            double *out) {
    const cJSON *v = member(obj, key);
    if (!v) return yq_fail(YQ_ERR_INVALID, "%s: %s[%zu] has no \"%s\"", name, what, idx, key);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return yq_fail(YQ_ERR_INVALID, "%s: %s[%zu].%s must be a finite number, not %s", name, what, idx, key,
                       json_type_name(v));
    *out = v->valuedouble;
    return YQ_OK;
}

static yq_status get_array(const cJSON *root, const char *key, const char *name, const cJSON **out) {
    const cJSON *v = member(root, key);
    if (!v) return yq_fail(YQ_ERR_INVALID, "%s: not a COCO annotation file: no \"%s\" list", name, key);
    if (!cJSON_IsArray(v))
        return yq_fail(YQ_ERR_INVALID, "%s: \"%s\" must be a list, not %s", name, key, json_type_name(v));
    *out = v;
    return YQ_OK;
}

/* ---- ground truth --------------------------------------------------------------------------------- */

void yq_coco_gt_free(yq_coco_gt *gt) {
    if (!gt) return;
    for (size_t i = 0; i < gt->nimages; i++) free((char *)gt->images[i].file_name);
    for (size_t k = 0; k < gt->ncats; k++) {
        free((char *)gt->cats[k].name);
        free((char *)gt->cats[k].supercategory);
    }
    free(gt->images);
    free(gt->cats);
    free(gt->anns);
    free(gt);
}

typedef struct {
    int64_t id;
    size_t index; /* position in the file, for messages about duplicates */
} id_at;

static int cmp_id_at(const void *a, const void *b) {
    const id_at *x = a, *y = b;
    if (x->id != y->id) return x->id < y->id ? -1 : 1;
    return x->index < y->index ? -1 : (x->index > y->index);
}

static int cmp_image(const void *a, const void *b) {
    const yq_coco_image *x = a, *y = b;
    return x->id < y->id ? -1 : (x->id > y->id);
}

static int cmp_category(const void *a, const void *b) {
    const yq_coco_category *x = a, *y = b;
    return x->id < y->id ? -1 : (x->id > y->id);
}

/* Sorts the ids of a list; the first duplicate is an error. */
static yq_status check_unique(const char *name, const char *list, id_at *ids, size_t n) {
    qsort(ids, n, sizeof *ids, cmp_id_at);
    for (size_t i = 1; i < n; i++)
        if (ids[i].id == ids[i - 1].id)
            return yq_fail(YQ_ERR_INVALID, "%s: duplicate id %lld in \"%s\" (%s[%zu] and %s[%zu])", name,
                           (long long)ids[i].id, list, list, ids[i - 1].index, list, ids[i].index);
    return YQ_OK;
}

static yq_status parse_images(const cJSON *list, const char *name, yq_coco_gt *gt) {
    size_t n = (size_t)cJSON_GetArraySize(list);
    gt->images = yq_calloc(n, sizeof *gt->images);
    id_at *ids = yq_calloc(n, sizeof *ids);
    if (!gt->images || !ids) {
        free(ids);
        return YQ_ERR_NOMEM;
    }
    gt->nimages = n; /* zeroed entries: freeing a partly parsed list is safe */
    yq_status s = YQ_OK;
    size_t i = 0;
    for (const cJSON *o = list->child; o && s == YQ_OK; o = o->next, i++) {
        yq_coco_image *img = &gt->images[i];
        if (!cJSON_IsObject(o)) {
            s = yq_fail(YQ_ERR_INVALID, "%s: images[%zu] must be an object, not %s", name, i, json_type_name(o));
            break;
        }
        s = get_id64(o, "id", name, "images", i, &img->id);
        char *fname = NULL;
        if (s == YQ_OK) s = get_opt_string(o, "file_name", name, "images", i, &fname);
        img->file_name = fname;
        const char *dims[2] = {"width", "height"};
        int *dst[2] = {&img->width, &img->height};
        for (int d = 0; d < 2 && s == YQ_OK; d++) {
            const cJSON *v = member(o, dims[d]);
            long long x;
            if (!v) continue;
            if (yq_json_get_int64(v, &x) != 0 || x < 0 || x > INT_MAX)
                s = yq_fail(YQ_ERR_INVALID, "%s: images[%zu].%s must be a non-negative integer", name, i, dims[d]);
            else
                *dst[d] = (int)x;
        }
        ids[i].id = img->id;
        ids[i].index = i;
    }
    if (s == YQ_OK) s = check_unique(name, "images", ids, n);
    free(ids);
    if (s == YQ_OK) qsort(gt->images, n, sizeof *gt->images, cmp_image);
    return s;
}

static yq_status parse_categories(const cJSON *list, const char *name, yq_coco_gt *gt) {
    size_t n = (size_t)cJSON_GetArraySize(list);
    gt->cats = yq_calloc(n, sizeof *gt->cats);
    id_at *ids = yq_calloc(n, sizeof *ids);
    if (!gt->cats || !ids) {
        free(ids);
        return YQ_ERR_NOMEM;
    }
    gt->ncats = n; /* zeroed entries: freeing a partly parsed list is safe */
    yq_status s = YQ_OK;
    size_t k = 0;
    for (const cJSON *o = list->child; o && s == YQ_OK; o = o->next, k++) {
        yq_coco_category *cat = &gt->cats[k];
        if (!cJSON_IsObject(o)) {
            s = yq_fail(YQ_ERR_INVALID, "%s: categories[%zu] must be an object, not %s", name, k,
                        json_type_name(o));
            break;
        }
        s = get_id32(o, "id", name, "categories", k, &cat->id);
        char *str = NULL;
        if (s == YQ_OK) s = get_opt_string(o, "name", name, "categories", k, &str);
        cat->name = str;
        str = NULL;
        if (s == YQ_OK) s = get_opt_string(o, "supercategory", name, "categories", k, &str);
        cat->supercategory = str;
        ids[k].id = cat->id;
        ids[k].index = k;
    }
    if (s == YQ_OK) s = check_unique(name, "categories", ids, n);
    free(ids);
    if (s == YQ_OK) qsort(gt->cats, n, sizeof *gt->cats, cmp_category);
    return s;
}

static yq_status parse_annotations(const cJSON *list, const char *name, yq_coco_gt *gt) {
    size_t n = (size_t)cJSON_GetArraySize(list);
    gt->anns = yq_calloc(n, sizeof *gt->anns);
    if (!gt->anns) return YQ_ERR_NOMEM;
    size_t j = 0;
    for (const cJSON *o = list->child; o; o = o->next, j++) {
        yq_coco_annotation *a = &gt->anns[j];
        if (!cJSON_IsObject(o))
            return yq_fail(YQ_ERR_INVALID, "%s: annotations[%zu] must be an object, not %s", name, j,
                           json_type_name(o));
        YQ_TRY(get_id64(o, "id", name, "annotations", j, &a->id));
        YQ_TRY(get_id64(o, "image_id", name, "annotations", j, &a->image_id));
        YQ_TRY(get_id32(o, "category_id", name, "annotations", j, &a->category_id));
        YQ_TRY(get_bbox(o, name, "annotations", j, a->bbox));
        if (member(o, "area"))
            YQ_TRY(get_number(o, "area", name, "annotations", j, &a->area));
        else
            a->area = a->bbox[2] * a->bbox[3];
        const cJSON *crowd = member(o, "iscrowd");
        if (!crowd || cJSON_IsFalse(crowd) || (cJSON_IsNumber(crowd) && crowd->valuedouble == 0)) {
            a->iscrowd = 0;
        } else if (cJSON_IsTrue(crowd) || (cJSON_IsNumber(crowd) && crowd->valuedouble == 1)) {
            a->iscrowd = 1;
        } else {
            return yq_fail(YQ_ERR_INVALID, "%s: annotations[%zu].iscrowd must be 0 or 1", name, j);
        }
    }
    gt->nanns = n;
    return YQ_OK;
}

yq_status yq_coco_gt_parse(const char *json, size_t len, const char *name, yq_coco_gt **out) {
    *out = NULL;
    cJSON *root = NULL;
    YQ_TRY(yq_json_parse(json, len, name, YQ_COCO_JSON_MAX_DEPTH, &root));
    yq_coco_gt *gt = yq_calloc(1, sizeof *gt);
    if (!gt) {
        cJSON_Delete(root);
        return YQ_ERR_NOMEM;
    }
    const cJSON *images = NULL, *cats = NULL, *anns = NULL;
    yq_status s = YQ_OK;
    if (!cJSON_IsObject(root))
        s = yq_fail(YQ_ERR_INVALID, "%s: not a COCO annotation file: the top level is %s, not an object", name,
                    json_type_name(root));
    if (s == YQ_OK) s = get_array(root, "images", name, &images);
    if (s == YQ_OK) s = get_array(root, "annotations", name, &anns);
    if (s == YQ_OK) s = get_array(root, "categories", name, &cats);
    if (s == YQ_OK) s = parse_images(images, name, gt);
    if (s == YQ_OK) s = parse_categories(cats, name, gt);
    if (s == YQ_OK) s = parse_annotations(anns, name, gt);
    cJSON_Delete(root);
    if (s != YQ_OK) {
        yq_coco_gt_free(gt);
        return s;
    }
    *out = gt;
    return YQ_OK;
}

yq_status yq_coco_gt_load(const char *path, yq_coco_gt **out) {
    *out = NULL;
    unsigned char *data = NULL;
    size_t len = 0;
    YQ_TRY(yq_json_read_text(path, YQ_COCO_JSON_MAX_BYTES, &data, &len));
    yq_status s = yq_coco_gt_parse((const char *)data, len, path, out);
    free(data);
    return s;
}

size_t yq_coco_gt_num_images(const yq_coco_gt *gt) { return gt->nimages; }
const yq_coco_image *yq_coco_gt_image(const yq_coco_gt *gt, size_t i) {
    return i < gt->nimages ? &gt->images[i] : NULL;
}
ptrdiff_t yq_coco_gt_find_image(const yq_coco_gt *gt, int64_t image_id) {
    size_t lo = 0, hi = gt->nimages;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (gt->images[mid].id < image_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (lo < gt->nimages && gt->images[lo].id == image_id) ? (ptrdiff_t)lo : -1;
}

size_t yq_coco_gt_num_categories(const yq_coco_gt *gt) { return gt->ncats; }
const yq_coco_category *yq_coco_gt_category(const yq_coco_gt *gt, size_t k) {
    return k < gt->ncats ? &gt->cats[k] : NULL;
}
ptrdiff_t yq_coco_gt_find_category(const yq_coco_gt *gt, int category_id) {
    size_t lo = 0, hi = gt->ncats;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (gt->cats[mid].id < category_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (lo < gt->ncats && gt->cats[lo].id == category_id) ? (ptrdiff_t)lo : -1;
}

size_t yq_coco_gt_num_annotations(const yq_coco_gt *gt) { return gt->nanns; }
const yq_coco_annotation *yq_coco_gt_annotation(const yq_coco_gt *gt, size_t j) {
    return j < gt->nanns ? &gt->anns[j] : NULL;
}

/* ---- detections ----------------------------------------------------------------------------------- */

yq_status yq_coco_dets_parse(const char *json, size_t len, const char *name, const yq_coco_gt *gt,
                             yq_coco_det **dets, size_t *n) {
    *dets = NULL;
    *n = 0;
    cJSON *root = NULL;
    YQ_TRY(yq_json_parse(json, len, name, YQ_COCO_JSON_MAX_DEPTH, &root));
    if (!cJSON_IsArray(root)) {
        yq_status s = yq_fail(YQ_ERR_INVALID, "%s: not a COCO results file: the top level is %s, not a list", name,
                              json_type_name(root));
        cJSON_Delete(root);
        return s;
    }
    size_t count = (size_t)cJSON_GetArraySize(root);
    yq_coco_det *out = yq_calloc(count, sizeof *out);
    if (!out) {
        cJSON_Delete(root);
        return YQ_ERR_NOMEM;
    }
    yq_status s = YQ_OK;
    size_t i = 0;
    for (const cJSON *o = root->child; o && s == YQ_OK; o = o->next, i++) {
        yq_coco_det *d = &out[i];
        if (!cJSON_IsObject(o)) {
            s = yq_fail(YQ_ERR_INVALID, "%s: detections[%zu] must be an object, not %s", name, i, json_type_name(o));
            break;
        }
        s = get_id64(o, "image_id", name, "detections", i, &d->image_id);
        if (s == YQ_OK) s = get_id32(o, "category_id", name, "detections", i, &d->category_id);
        if (s == YQ_OK) s = get_bbox(o, name, "detections", i, d->bbox);
        if (s == YQ_OK) s = get_number(o, "score", name, "detections", i, &d->score);
        if (s == YQ_OK && gt && yq_coco_gt_find_image(gt, d->image_id) < 0)
            s = yq_fail(YQ_ERR_INVALID,
                        "%s: detections[%zu].image_id %lld is not an image of the ground truth "
                        "(results do not correspond to the annotation file)",
                        name, i, (long long)d->image_id);
    }
    cJSON_Delete(root);
    if (s != YQ_OK) {
        free(out);
        return s;
    }
    *dets = out;
    *n = count;
    return YQ_OK;
}

yq_status yq_coco_dets_load(const char *path, const yq_coco_gt *gt, yq_coco_det **dets, size_t *n) {
    *dets = NULL;
    *n = 0;
    unsigned char *data = NULL;
    size_t len = 0;
    YQ_TRY(yq_json_read_text(path, YQ_COCO_JSON_MAX_BYTES, &data, &len));
    yq_status s = yq_coco_dets_parse((const char *)data, len, path, gt, dets, n);
    free(data);
    return s;
}

yq_status yq_coco_dets_save(const char *path, const yq_coco_det *dets, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int finite = isfinite(dets[i].score);
        for (int c = 0; c < 4; c++) finite = finite && isfinite(dets[i].bbox[c]);
        if (!finite)
            return yq_fail(YQ_ERR_ARG, "%s: detection %zu has a non-finite box or score; not written", path, i);
    }
    yq_atomic_file af;
    YQ_TRY(yq_atomic_open(&af, path));
    FILE *fp = af.fp;
    char num[5][YQ_JSON_NUM_BUF];
    fputc('[', fp);
    for (size_t i = 0; i < n; i++) {
        const yq_coco_det *d = &dets[i];
        for (int c = 0; c < 4; c++) yq_json_format_double(num[c], d->bbox[c]);
        yq_json_format_double(num[4], d->score);
        fprintf(fp, "%s\n{\"image_id\": %lld, \"category_id\": %d, \"bbox\": [%s, %s, %s, %s], \"score\": %s}",
                i ? "," : "", (long long)d->image_id, d->category_id, num[0], num[1], num[2], num[3], num[4]);
    }
    fputs("\n]\n", fp);
    if (ferror(fp)) {
        yq_status s = yq_fail(YQ_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        yq_atomic_abort(&af);
        return s;
    }
    return yq_atomic_commit(&af);
}
