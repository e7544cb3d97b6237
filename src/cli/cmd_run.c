/* yoloq run MODEL --image IMG: detect objects in one image. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "detect/detector.h"
#include "vision/draw.h"

void cmd_run_help(FILE *fp) {
    fprintf(fp,
            "Usage: yoloq run MODEL.onnx --image IMG [--json OUT] [--draw OUT.png] [--conf T]\n"
            "                 [--iou T] [--max-det N] [--contract auto|end2end|xywh|dfl] [--threads N]\n"
            "                 [--engine auto|fakequant|ort] [--verbose]\n"
            "\n"
            "Detect objects in one JPEG or PNG image. The image is letterboxed exactly like\n"
            "Ultralytics' LetterBox(auto=False) to the model's input size, the model runs on\n"
            "yoloq's engine, and boxes are mapped back to the original image (clipped).\n"
            "Prints one line per detection: 'class score x1 y1 x2 y2' (image pixels).\n"
            "\n"
            "Options:\n"
            "  -i, --image IMG     the image to run on (required)\n"
            "  -j, --json OUT      write {image, width, height, detections:[{class_id, class, score,\n"
            "                      box:[x1,y1,x2,y2]}]} to OUT ('-' for stdout instead of the lines)\n"
            "  -d, --draw OUT.png  write the image with boxes and labels drawn as PNG\n"
            "  -c, --conf T        keep detections with score > T (default 0.25)\n"
            "      --iou T         NMS IoU threshold for raw-output models (default 0.7)\n"
            "      --max-det N     at most N detections (default 300)\n"
            "      --contract C    output contract; default: told from the output shape\n" CLI_HELP_THREADS
            CLI_HELP_ENGINE CLI_HELP_ENGINE_ORT
            "  -v, --verbose       print the execution plan (with the engine of every\n"
            "                      convolution: integer, fake-quant or float) and timings on stderr\n" CLI_HELP_QUIET CLI_HELP_HELP);
}

int cmd_run(int argc, char **argv) {
    enum { OPT_IOU = 256, OPT_MAXDET, OPT_CONTRACT, OPT_ENGINE };
    static const struct option longopts[] = {
        {"image", required_argument, 0, 'i'},   {"json", required_argument, 0, 'j'},
        {"draw", required_argument, 0, 'd'},    {"conf", required_argument, 0, 'c'},
        {"iou", required_argument, 0, OPT_IOU}, {"max-det", required_argument, 0, OPT_MAXDET},
        {"contract", required_argument, 0, OPT_CONTRACT}, {"engine", required_argument, 0, OPT_ENGINE},
        {"threads", required_argument, 0, 't'}, {"verbose", no_argument, 0, 'v'},
        {"quiet", no_argument, 0, 'q'},         {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *image = NULL, *json_out = NULL, *draw_out = NULL;
    int quiet = 0, c;
    yq_detector_opts o;
    yq_detector_opts_default(&o);
    optind = 1;
    while ((c = getopt_long(argc, argv, "i:j:d:c:t:vqh", longopts, NULL)) != -1) {
        switch (c) {
        case 'i': image = optarg; break;
        case 'j': json_out = optarg; break;
        case 'd': draw_out = optarg; break;
        case 'c': if (cli_parse_float("run", "--conf", optarg, 0.0, 1.0, &o.decode.conf)) return CLI_USAGE; break;
        case OPT_IOU: if (cli_parse_float("run", "--iou", optarg, 0.0, 1.0, &o.decode.iou)) return CLI_USAGE; break;
        case OPT_MAXDET:
            if (cli_parse_int("run", "--max-det", optarg, 1, 100000, &o.decode.max_det)) return CLI_USAGE;
            break;
        case OPT_CONTRACT: {
            int k = yq_yolo_contract_parse(optarg);
            if (k < 0) return cli_usage("run", "--contract must be auto, end2end, xywh or dfl, got '%s'", optarg);
            o.decode.contract = (yq_yolo_contract)k;
            break;
        }
        case OPT_ENGINE:
            if (cli_parse_detector_engine("run", optarg, &o.engine, &o.ort)) return CLI_USAGE;
            break;
        case 't': if (cli_parse_int("run", "--threads", optarg, 1, 256, &o.nthreads)) return CLI_USAGE; break;
        case 'v': o.verbose = 1; break;
        case 'q': quiet = 1; break;
        case 'h': cmd_run_help(stdout); return CLI_OK;
        default: return cli_usage("run", "unknown option");
        }
    }
    if (optind != argc - 1) return cli_usage("run", "expects exactly one MODEL.onnx");
    if (!image) return cli_usage("run", "--image IMG is required");
    const char *model = argv[optind];

    /* Read the image first: a bad image should fail fast, before the model loads. */
    yq_image img = {0};
    yq_status st = yq_image_load(image, &img);
    if (st != YQ_OK) return cli_fail(st);
    yq_detector *det;
    st = yq_detector_open(model, &o, &det);
    if (st != YQ_OK) {
        yq_image_free(&img);
        return cli_fail(st);
    }
    yq_det *dets = NULL;
    int n = 0, rc = CLI_OK;
    yq_detect_timing tm;
    st = yq_detector_detect(det, &img, &dets, &n, &tm);
    if (st != YQ_OK) rc = cli_fail(st);
    if (rc == CLI_OK && o.verbose && !quiet)
        fprintf(stderr, "yoloq: %s contract, preprocess %.1f ms, inference %.1f ms%s%s, decode %.2f ms\n",
                yq_yolo_contract_name(yq_detector_contract(det)), tm.preprocess_ms, tm.infer_ms,
                yq_detector_ort_version(det) ? " in ONNX Runtime " : "",
                yq_detector_ort_version(det) ? yq_detector_ort_version(det) : "", tm.decode_ms);
    int json_stdout = json_out && !strcmp(json_out, "-");
    if (rc == CLI_OK && !json_stdout) {
        for (int i = 0; i < n; i++) {
            const char *name = yq_detector_class_name(det, dets[i].cls);
            printf("%-14s %.4f %8.2f %8.2f %8.2f %8.2f\n", name ? name : "?", dets[i].score, dets[i].x1, dets[i].y1,
                   dets[i].x2, dets[i].y2);
        }
    }
    if (rc == CLI_OK && json_out) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "image", image);
        cJSON_AddNumberToObject(doc, "width", img.w);
        cJSON_AddNumberToObject(doc, "height", img.h);
        cJSON *arr = cJSON_AddArrayToObject(doc, "detections");
        for (int i = 0; i < n; i++) {
            cJSON *d = cJSON_CreateObject();
            const char *name = yq_detector_class_name(det, dets[i].cls);
            cJSON_AddNumberToObject(d, "class_id", dets[i].cls);
            cJSON_AddStringToObject(d, "class", name ? name : "");
            cJSON_AddNumberToObject(d, "score", dets[i].score);
            const double box[4] = {dets[i].x1, dets[i].y1, dets[i].x2, dets[i].y2};
            cJSON_AddItemToObject(d, "box", cJSON_CreateDoubleArray(box, 4));
            cJSON_AddItemToArray(arr, d);
        }
        rc = cli_write_json(doc, json_out);
        cJSON_Delete(doc);
    }
    if (rc == CLI_OK && draw_out) {
        int nn = 0;
        while (yq_detector_class_name(det, nn)) nn++;
        const char **names = calloc((size_t)nn + 1, sizeof *names);
        for (int i = 0; i < nn; i++) names[i] = yq_detector_class_name(det, i);
        st = yq_draw_detections(&img, dets, n, names, nn);
        if (st == YQ_OK) st = yq_image_save_png(draw_out, &img);
        if (st != YQ_OK) rc = cli_fail(st);
        free(names);
    }
    free(dets);
    yq_detector_free(det);
    yq_image_free(&img);
    return rc;
}
