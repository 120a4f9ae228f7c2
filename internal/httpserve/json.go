package httpserve

import (
	"encoding/json"
	"net/http"
)

// WriteJSON writes v as a JSON answer with the given status: the one encode step both services use.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
