/* Scores the row given on the command line and prints each class label with its probability. */
#include <stdio.h>
#include <stdlib.h>

#include "model.h"

int main(int argc, char **argv) {
    double row[IRIS_N_FEATURES], out[IRIS_N_OUTPUTS];
    int i;
    if (argc != IRIS_N_FEATURES + 1) {
        fprintf(stderr, "usage: %s %d numbers\n", argv[0], IRIS_N_FEATURES);
        return 2;
    }
    for (i = 0; i < IRIS_N_FEATURES; i++) {
        row[i] = strtod(argv[i + 1], NULL);
    }
    iris(row, out);
    for (i = 0; i < IRIS_N_OUTPUTS; i++) {
        printf("%s %.17g\n", iris_class_labels[i], out[i]);
    }
    return 0;
}
