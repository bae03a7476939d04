"""Throughput drivers for the generated code: each reads rows (float64, row-major) from a
file, scores them with the batch entry point and row by row, and prints rows/s for both: the
best of `reps` timed passes after a warm-up, so another process on a shared machine slows a
pass without slowing the result."""

GO_MAIN = """package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strconv"
	"time"

	m "bench/model"
)

func main() {
	data, _ := os.ReadFile(os.Args[1])
	reps, _ := strconv.Atoi(os.Args[2])
	rows := make([]float64, len(data)/8)
	for i := range rows {
		rows[i] = math.Float64frombits(binary.LittleEndian.Uint64(data[i*8:]))
	}
	n := len(rows) / m.NFeatures
	out := make([]float64, n*m.NOutputs)
	m.ScoreBatch(rows, out) // warm-up
	batch, single, sum := 0.0, 0.0, 0.0
	for r := 0; r < reps; r++ {
		t := time.Now()
		m.ScoreBatch(rows, out)
		batch = math.Max(batch, float64(n)/time.Since(t).Seconds())
	}
	for r := 0; r < reps; r++ {
		t := time.Now()
		for i := 0; i < n; i++ {
			sum += m.Score(rows[i*m.NFeatures : (i+1)*m.NFeatures])[0]
		}
		single = math.Max(single, float64(n)/time.Since(t).Seconds())
	}
	fmt.Println(batch, single, sum)
}
"""

C_MAIN = """#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "model.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    FILE *f = fopen(argv[1], "rb");
    int reps = atoi(argv[2]);
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    double *rows = malloc(bytes);
    if (fread(rows, 1, bytes, f) != (size_t)bytes) return 1;
    size_t n = bytes / 8 / SCORE_N_FEATURES;
    double *out = malloc(sizeof(double) * n * SCORE_N_OUTPUTS);
    score_batch(rows, n, out);
    double batch = 0, single = 0, sum = 0;
    for (int r = 0; r < reps; r++) {
        double t = now();
        score_batch(rows, n, out);
        double rate = n / (now() - t);
        batch = rate > batch ? rate : batch;
    }
    for (int r = 0; r < reps; r++) {
        double t = now();
        for (size_t i = 0; i < n; i++) {
            score(rows + i * SCORE_N_FEATURES, out);
            sum += out[0];
        }
        double rate = n / (now() - t);
        single = rate > single ? rate : single;
    }
    printf("%f %f %f\\n", batch, single, sum);
    return 0;
}
"""

JAVA_MAIN = """import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Paths;

public final class Bench {
    private Bench() {
    }

    public static void main(String[] args) throws Exception {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(Paths.get(args[0]))).order(ByteOrder.LITTLE_ENDIAN);
        int reps = Integer.parseInt(args[1]);
        double[] rows = new double[b.capacity() / 8];
        b.asDoubleBuffer().get(rows);
        int n = rows.length / Model.N_FEATURES;
        double[] out = new double[n * Model.N_OUTPUTS];
        for (int w = 0; w < 3; w++) {
            Model.scoreBatch(rows, n, out);
        }
        double batch = 0;
        for (int r = 0; r < reps; r++) {
            long t = System.nanoTime();
            Model.scoreBatch(rows, n, out);
            batch = Math.max(batch, n / ((System.nanoTime() - t) * 1e-9));
        }
        double sum = 0;
        double[] row = new double[Model.N_FEATURES];
        for (int w = 0; w < 2; w++) {
            for (int i = 0; i < n; i++) {
                System.arraycopy(rows, i * Model.N_FEATURES, row, 0, Model.N_FEATURES);
                sum += Model.score(row)[0];
            }
        }
        double single = 0;
        for (int r = 0; r < reps; r++) {
            long t = System.nanoTime();
            for (int i = 0; i < n; i++) {
                System.arraycopy(rows, i * Model.N_FEATURES, row, 0, Model.N_FEATURES);
                sum += Model.score(row)[0];
            }
            single = Math.max(single, n / ((System.nanoTime() - t) * 1e-9));
        }
        System.out.println(batch + " " + single + " " + sum);
    }
}
"""
