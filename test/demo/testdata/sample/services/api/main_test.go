package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func get(t *testing.T, path string, v any) {
	t.Helper()
	rec := httptest.NewRecorder()
	newMux().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d", path, rec.Code)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

func TestHealthz(t *testing.T) {
	var got map[string]string
	get(t, "/healthz", &got)
	if got["status"] != "ok" {
		t.Fatalf("healthz = %v", got)
	}
}

func TestProducts(t *testing.T) {
	var got []Product
	get(t, "/products", &got)
	if len(got) != 2 || got[0].ID != "mug" {
		t.Fatalf("products = %v", got)
	}
}
