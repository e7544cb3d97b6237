/* yoloq command-line entry point: dispatches to one file per verb. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    printf("yoloq %s\n", YOLOQ_VERSION);
    return 0;
}
