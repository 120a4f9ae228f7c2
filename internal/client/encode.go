package client

import (
	"encoding/json"
	"net/http"
)

// encode writes v as a JSON answer with the given status.
func encode(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
