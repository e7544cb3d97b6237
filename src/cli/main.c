/* yoloq command-line entry point: dispatches to one file per verb. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

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
            "Outputs are written atomically: a failed command never leaves a partial file.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        main_help(stderr);
        return CLI_USAGE;
    }
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
