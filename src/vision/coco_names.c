#include "vision/coco_names.h"

#include <stddef.h>

const char *const yq_coco_names[YQ_COCO_NUM_CLASSES] = {
    "person",        "bicycle",      "car",           "motorcycle",    "airplane",     "bus",
    "train",         "truck",        "boat",          "traffic light", "fire hydrant", "stop sign",
    "parking meter", "bench",        "bird",          "cat",           "dog",          "horse",
    "sheep",         "cow",          "elephant",      "bear",          "zebra",        "giraffe",
    "backpack",      "umbrella",     "handbag",       "tie",           "suitcase",     "frisbee",
    "skis",          "snowboard",    "sports ball",   "kite",          "baseball bat", "baseball glove",
    "skateboard",    "surfboard",    "tennis racket", "bottle",        "wine glass",   "cup",
    "fork",          "knife",        "spoon",         "bowl",          "banana",       "apple",
    "sandwich",      "orange",       "broccoli",      "carrot",        "hot dog",      "pizza",
    "donut",         "cake",         "chair",         "couch",         "potted plant", "bed",
    "dining table",  "toilet",       "tv",            "laptop",        "mouse",        "remote",
    "keyboard",      "cell phone",   "microwave",     "oven",          "toaster",      "sink",
    "refrigerator",  "book",         "clock",         "vase",          "scissors",     "teddy bear",
    "hair drier",    "toothbrush",
};

/* The 2017 release skips ids 12, 26, 29, 30, 45, 66, 68, 69, 71, 83. */
static const unsigned char k_category_ids[YQ_COCO_NUM_CLASSES] = {
    1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21,
    22, 23, 24, 25, 27, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44,
    46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65,
    67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90,
};

const char *yq_coco_name(int cls) { return cls >= 0 && cls < YQ_COCO_NUM_CLASSES ? yq_coco_names[cls] : NULL; }

int yq_coco_category_id(int cls) { return cls >= 0 && cls < YQ_COCO_NUM_CLASSES ? k_category_ids[cls] : -1; }

int yq_coco_class_of_category(int category_id) {
    for (int i = 0; i < YQ_COCO_NUM_CLASSES; i++)
        if (k_category_ids[i] == category_id) return i;
    return -1;
}
