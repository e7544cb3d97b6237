/* The 80 COCO detection classes in the standard (Ultralytics/YOLO) order, and
 * their official category ids in the COCO annotation files (1..90, with gaps). */
#ifndef YQ_VISION_COCO_NAMES_H
#define YQ_VISION_COCO_NAMES_H

#define YQ_COCO_NUM_CLASSES 80

extern const char *const yq_coco_names[YQ_COCO_NUM_CLASSES];

/* Name of class index 0..79, or NULL outside that range. */
const char *yq_coco_name(int cls);
/* Official COCO category id of class index 0..79 (person -> 1, toothbrush -> 90), or -1. */
int yq_coco_category_id(int cls);
/* Class index of an official category id, or -1 when the id is not one of the 80. */
int yq_coco_class_of_category(int category_id);

#endif
