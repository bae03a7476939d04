// Command go-loader serves predictions from one transpiler model file (`.trpm`) and swaps in
// a new version of the file without a restart: the plugin-free way to update a model.
// Standard library plus the generated package in modelfile/ (the same code for every model):
//
//	transpile model.pkl --lang go --loader -o modelfile    # loader.go and model.trpm
//	go build -o go-loader . && ./go-loader -model modelfile/model.trpm -addr 127.0.0.1:8080
//
//	GET  /model      the model's metadata (hash, features, classes, source)
//	POST /predict    {"rows": [[x1, x2, ...], ...]}  ->  {"hash": ..., "outputs": [[...], ...]}
//
// null in a row is a missing value (NaN); a NaN output is null. To update the model, write
// the new file under a temporary name in the same directory and rename it over the old one.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"example.com/go-loader/modelfile"
)

func main() {
	path := flag.String("model", "model.trpm", "model file to serve and watch")
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on (port 0: any free port)")
	poll := flag.Duration("poll", 2*time.Second, "how often to look for a changed model file")
	tol := flag.Float64("tolerance", 1e-9, "self-check tolerance, relative (absolute below 1)")
	lifetime := flag.Duration("max-lifetime", 0, "stop after this long (0: run until signalled)")
	flag.Parse()

	var holder modelfile.Holder
	if _, err := holder.Load(*path, *tol); err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *lifetime > 0 {
		ctx, stop = context.WithTimeout(ctx, *lifetime)
		defer stop()
	}
	go holder.Watch(ctx, *path, *poll, *tol, func(m *modelfile.Model, err error) {
		if err != nil {
			log.Print(err)
			return
		}
		log.Printf("serving %s (%s, hash %.12s)", *path, m.Metadata().Source, m.Hash())
	})

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	mux := http.NewServeMux()
	mux.HandleFunc("/model", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, holder.Model().Metadata())
	})
	mux.HandleFunc("/predict", func(w http.ResponseWriter, r *http.Request) { predict(&holder, w, r) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: time.Minute}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

func predict(holder *modelfile.Holder, w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use POST"})
		return
	}
	var req struct {
		Rows [][]*float64 `json:"rows"` // nil: a missing value
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be {\"rows\": [[numbers or null, ...], ...]}: " + err.Error()})
		return
	}
	m := holder.Model() // one version for the whole request, even if a swap happens meanwhile
	outputs := make([][]any, len(req.Rows))
	for i, row := range req.Rows {
		x := make([]float64, len(row))
		for j, v := range row {
			x[j] = math.NaN()
			if v != nil {
				x[j] = *v
			}
		}
		out, err := m.ScoreChecked(x)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("row %d: %v", i, err)})
			return
		}
		outputs[i] = make([]any, len(out))
		for k, v := range out {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				outputs[i][k] = v
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"hash": m.Hash(), "outputs": outputs})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
