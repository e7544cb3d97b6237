/* yoloq command-line entry point: dispatches to one file per verb. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/status.h"
#include "rt/kernels/conv.h"

/* YOLOQ_MAX_MEMORY=SIZE (bytes, or with a K/M/G suffix): no single buffer may
 * be larger. Returns 0, or -1 after printing why the value is unusable. */
static int apply_memory_limit(void) {
    const char *v = getenv("YOLOQ_MAX_MEMORY");
    if (!v || !*v) return 0;
    errno = 0;
    char *end = NULL;
    double x = strtod(v, &end);
    double mult = 1;
    if (end && (*end == 'K' || *end == 'k')) mult = 1024.0, end++;
    else if (end && (*end == 'M' || *end == 'm')) mult = 1048576.0, end++;
    else if (end && (*end == 'G' || *end == 'g')) mult = 1073741824.0, end++;
    if (end && (*end == 'B' || *end == 'b' || *end == 'i')) end++;
    if (end && (*end == 'B' || *end == 'b')) end++;
    if (errno || end == v || (end && *end) || !(x > 0) || x * mult >= 1.8e19) {
        fprintf(stderr, "yoloq: YOLOQ_MAX_MEMORY='%s' is not a size (bytes, or a number with K, M or G)\n", v);
        return -1;
    }
    yq_set_alloc_limit((size_t)(x * mult));
    return 0;
}

/* YOLOQ_CONV_WINOGRAD=0: 3×3 stride-1 convs never take the Winograd path
 * (for A/B timing and accuracy comparisons). Returns 0, or -1 after printing
 * why the value is unusable. */
static int apply_winograd_switch(void) {
    const char *v = getenv("YOLOQ_CONV_WINOGRAD");
    if (!v || !*v) return 0;
    if (strcmp(v, "0") && strcmp(v, "1")) {
        fprintf(stderr, "yoloq: YOLOQ_CONV_WINOGRAD='%s' must be 0 or 1\n", v);
        return -1;
    }
    yq_conv_set_winograd(v[0] == '1');
    return 0;
}

static void main_help(FILE *fp) {
    fprintf(fp,
            "yoloq %s — quantize YOLO ONNX detectors to 8/4-bit and prove what accuracy they keep\n"
            "\n"
            "Usage: yoloq COMMAND [OPTIONS] ...\n"
            "       yoloq COMMAND --help     options of one command\n"
            "\n"
            "Commands:\n",
            YOLOQ_VERSION);
    for (int i = 0; i < cli_ncommands; i++) fprintf(fp, "  %-10s %s\n", cli_commands[i].name, cli_commands[i].summary);
    fprintf(fp,
            "\n"
            "Exit status: 0 on success, 1 when an input cannot be used (the error line names the file\n"
            "and the problem), 2 for a wrong command line.\n"
            "Outputs are written atomically: a failed command never leaves a partial file.\n"
            "\n"
            "Environment:\n"
            "  YOLOQ_MAX_MEMORY=SIZE   refuse any single buffer larger than SIZE (e.g. 2G, 512M):\n"
            "                          a model with absurd shapes then fails with one clear line.\n"
            "  YOLOQ_DATA=DIR          the shared data folder (models/, data/coco/) for demo and tests.\n"
            "  YOLOQ_CONV_WINOGRAD=0   never run 3x3 stride-1 convs as Winograd F(4,3) (default 1: where\n"
            "                          measured faster); results differ by float rounding (~1e-6 relative).\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        main_help(stderr);
        return CLI_USAGE;
    }
    if (apply_memory_limit() != 0 || apply_winograd_switch() != 0) return CLI_USAGE;
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
        main_help(stdout);
        return CLI_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("yoloq %s\n", YOLOQ_VERSION);
        return CLI_OK;
    }
    if (!strcmp(cmd, "help")) {
        if (argc < 3) {
            main_help(stdout);
            return CLI_OK;
        }
        cmd = argv[2];
        for (int i = 0; i < cli_ncommands; i++)
            if (!strcmp(cli_commands[i].name, cmd)) {
                cli_commands[i].help(stdout);
                return CLI_OK;
            }
        fprintf(stderr, "yoloq: unknown command '%s'. Try 'yoloq --help'.\n", cmd);
        return CLI_USAGE;
    }
    for (int i = 0; i < cli_ncommands; i++)
        if (!strcmp(cli_commands[i].name, cmd)) return cli_commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "yoloq: unknown command '%s'. Try 'yoloq --help'.\n", cmd);
    return CLI_USAGE;
}
