/* yoloq demo: the pipeline on a default that needs no download. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cmd_pipeline.h"
#include "pipeline/synthetic.h"

void cmd_demo_help(FILE *fp) {
    fprintf(fp,
            "Usage: yoloq demo [--run-dir DIR] [--variants LIST] [--max-images N] [--synthetic]\n"
            "                  [--resume] [--threads N] [--quiet]\n"
            "\n"
            "Run 'yoloq pipeline' on a default that needs no download and print where the summary is.\n"
            "With the shared data folder — $YOLOQ_DATA, else ../shared seen from the working\n"
            "directory or from the yoloq source tree the binary was built in — that is YOLOv10n\n"
            "(models/yolov10n.onnx), calibrated on the 128 images of data/coco/calib128.txt and\n"
            "evaluated on the 216 COCO val2017 images of\n"
            "data/coco/annotations/instances_val2017_dev216.json. Without it (or with --synthetic)\n"
            "yoloq builds a small convolutional detector and a set of images with known boxes\n"
            "itself (in DIR/synthetic/) and runs the pipeline on those.\n"
            "\n"
            "Options:\n"
            "  -o, --run-dir DIR      the bundle folder (default: runs/demo-<UTC timestamp>)\n"
            "      --variants LIST    as for 'yoloq pipeline' (default: baseline,w8a16,w8a8,w4a16,w4a8)\n"
            "  -n, --max-images N     evaluate only the first N images\n"
            "      --calib-count N    calibration images (default 128)\n"
            "      --synthetic        use the built-in synthetic detector even when data is present\n"
            "      --resume           as for 'yoloq pipeline'\n" CLI_HELP_THREADS CLI_HELP_QUIET CLI_HELP_HELP);
}

static int has_demo_data(const char *root) {
    char p[4096];
    snprintf(p, sizeof p, "%s/models/yolov10n.onnx", root);
    struct stat sb;
    if (stat(p, &sb) != 0) return 0;
    snprintf(p, sizeof p, "%s/data/coco/annotations/instances_val2017_dev216.json", root);
    if (stat(p, &sb) != 0) return 0;
    snprintf(p, sizeof p, "%s/data/coco/calib128.txt", root);
    return stat(p, &sb) == 0;
}

/* $YOLOQ_DATA, ./../shared, or <source tree>/../shared (binary in <source>/build*). */
static char *find_data(void) {
    const char *env = getenv("YOLOQ_DATA");
    if (env && *env) return has_demo_data(env) ? strdup(env) : NULL;
    if (has_demo_data("../shared")) return strdup("../shared");
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return NULL;
    exe[n] = '\0';
    for (int up = 0; up < 3; up++) { /* build/yoloq, build/sub/yoloq, ... */
        char *slash = strrchr(exe, '/');
        if (!slash) break;
        *slash = '\0';
        char cand[4200];
        snprintf(cand, sizeof cand, "%s/../shared", exe);
        if (has_demo_data(cand)) return realpath(cand, NULL);
    }
    return NULL;
}

int cmd_demo(int argc, char **argv) {
    enum { OPT_VARIANTS = 256, OPT_SYNTH, OPT_RESUME, OPT_COUNT };
    static const struct option longopts[] = {
        {"run-dir", required_argument, 0, 'o'},  {"variants", required_argument, 0, OPT_VARIANTS},
        {"max-images", required_argument, 0, 'n'}, {"synthetic", no_argument, 0, OPT_SYNTH},
        {"calib-count", required_argument, 0, OPT_COUNT},
        {"resume", no_argument, 0, OPT_RESUME},  {"threads", required_argument, 0, 't'},
        {"quiet", no_argument, 0, 'q'},          {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    yq_pipeline_opts o;
    yq_pipeline_opts_default(&o);
    int quiet = 0, synthetic = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:n:t:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': o.run_dir = optarg; break;
        case OPT_VARIANTS: o.variants = optarg; break;
        case 'n': if (cli_parse_int("demo", "--max-images", optarg, 1, 100000000, &o.max_images)) return CLI_USAGE; break;
        case OPT_COUNT: if (cli_parse_int("demo", "--calib-count", optarg, 1, 1000000, &o.calib_count)) return CLI_USAGE; break;
        case OPT_SYNTH: synthetic = 1; break;
        case OPT_RESUME: o.resume = 1; break;
        case 't': if (cli_parse_int("demo", "--threads", optarg, 1, 256, &o.threads)) return CLI_USAGE; break;
        case 'q': quiet = 1; break;
        case 'h': cmd_demo_help(stdout); return CLI_OK;
        default: return cli_usage("demo", "unknown option");
        }
    }
    if (optind != argc) return cli_usage("demo", "takes no arguments besides options");
    if (o.variants && yq_pipeline_parse_variants(o.variants, NULL) != YQ_OK)
        return cli_usage("demo", "--variants: %s", yq_last_error());
    char dir[256];
    if (!o.run_dir) {
        if (o.resume) return cli_usage("demo", "--resume needs the --run-dir of the run to resume");
        char ts[200];
        pipeline_default_run_dir(ts, sizeof ts);
        snprintf(dir, sizeof dir, "runs/demo-%s", ts + 5);
        o.run_dir = dir;
    }
    const char *slash = strrchr(o.run_dir, '/');
    o.run_id = slash && slash[1] ? slash + 1 : o.run_dir;
    char *data = synthetic ? NULL : find_data();
    char model[4200], calib[4200], ann[4200], images[4200];
    yq_synthetic_set set;
    int have_set = 0;
    if (data) {
        snprintf(model, sizeof model, "%s/models/yolov10n.onnx", data);
        snprintf(calib, sizeof calib, "%s/data/coco/calib128.txt", data);
        snprintf(ann, sizeof ann, "%s/data/coco/annotations/instances_val2017_dev216.json", data);
        snprintf(images, sizeof images, "%s/data/coco/val2017", data);
        if (!quiet) fprintf(stderr, "yoloq demo: YOLOv10n and the COCO dev subset from %s\n", data);
    } else {
        char sdir[4200];
        snprintf(sdir, sizeof sdir, "%s/synthetic", o.run_dir);
        if (!quiet)
            fprintf(stderr, "yoloq demo: %s; building a synthetic detector and images in %s\n",
                    synthetic ? "--synthetic" : "no shared data found (set YOLOQ_DATA)", sdir);
        yq_status st = yq_synthetic_build(sdir, &set);
        if (st != YQ_OK) return cli_fail(st);
        have_set = 1;
        snprintf(model, sizeof model, "%s", set.model);
        snprintf(calib, sizeof calib, "%s", set.calib);
        snprintf(ann, sizeof ann, "%s", set.ann);
        snprintf(images, sizeof images, "%s", set.images);
    }
    free(data);
    o.model = model;
    o.calib = calib;
    o.ann = ann;
    o.images = images;
    pipeline_ui ui;
    pipeline_ui_init(&ui, quiet);
    pipeline_ui_attach(&ui, &o);
    yq_pipeline_result res;
    yq_status st = yq_pipeline_run(&o, &res);
    if (have_set) yq_synthetic_set_free(&set);
    return pipeline_report(&res, st, &ui);
}
