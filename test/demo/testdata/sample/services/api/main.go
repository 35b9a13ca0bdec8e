// Command api is shopfront's REST API.
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"os"
)

// Product is one item of the catalogue.
type Product struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Price int    `json:"priceCents"`
}

var catalogue = []Product{
	{ID: "mug", Name: "Mug", Price: 1200},
	{ID: "tee", Name: "T-shirt", Price: 2500},
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]string{"status": "ok"})
}

func products(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, catalogue)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func newMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", healthz)
	mux.HandleFunc("/products", products)
	return mux
}

func main() {
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = ":8080"
	}
	log.Fatal(http.ListenAndServe(addr, newMux()))
}
