package com.example;

import com.example.iris.Model;

/** Scores the row given on the command line and prints each class label with its probability. */
public final class App {
    private App() {
    }

    public static void main(String[] args) {
        double[] row = new double[Model.N_FEATURES];
        for (int i = 0; i < row.length; i++) {
            row[i] = Double.parseDouble(args[i]);
        }
        double[] out = Model.score(row);
        for (int k = 0; k < out.length; k++) {
            System.out.println(Model.CLASS_LABELS.get(k) + " " + out[k]);
        }
    }
}
