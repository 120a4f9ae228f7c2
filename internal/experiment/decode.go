package experiment

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxJSONDepth bounds the nesting of a decoded document, about where Python's json gives up (its
// recursion limit is 1000). decodeValue recurses once per level: a few megabytes of "[" (an
// experiment, or an http probe's JSON body) would otherwise overflow the stack and kill the
// process; and Object.MarshalJSON's time grows with the square of the depth.
const maxJSONDepth = 1000

// decodeJSON decodes one JSON document into Python-shaped values (*Object, []any, int64,
// float64, string, bool, nil). Errors give the line and column.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("unexpected data after the top-level value")
		}
	}
	if err != nil {
		return nil, positioned(data, dec.InputOffset(), err)
	}
	return v, nil
}

func positioned(data []byte, off int64, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = se.Offset
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = errors.New("unexpected end of input")
	}
	line, col := lineCol(data, off)
	return fmt.Errorf("line %d, column %d: %v", line, col, err)
}

func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

func decodeValue(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if (t == '{' || t == '[') && depth >= maxJSONDepth {
			return nil, fmt.Errorf("nested deeper than %d levels", maxJSONDepth)
		}
		if t == '{' {
			return decodeObject(dec, depth+1)
		}
		if t == '[' {
			return decodeArray(dec, depth+1)
		}
		return nil, fmt.Errorf("unexpected %q", t)
	case json.Number:
		return convertNumber(t), nil
	default:
		return t, nil // string, bool, nil
	}
}

func decodeObject(dec *json.Decoder, depth int) (any, error) {
	o := &Object{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("object key must be a string, got %v", tok)
		}
		v, err := decodeValue(dec, depth)
		if err != nil {
			return nil, err
		}
		o.Set(k, v)
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, err
	}
	return o, nil
}

func decodeArray(dec *json.Decoder, depth int) (any, error) {
	a := []any{}
	for dec.More() {
		v, err := decodeValue(dec, depth)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
	}
	if _, err := dec.Token(); err != nil { // ']'
		return nil, err
	}
	return a, nil
}

// convertNumber gives int64 for an integer literal (as Python's json does) and float64 otherwise.
func convertNumber(n json.Number) any {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i
		}
	}
	f, _ := strconv.ParseFloat(s, 64)
	return f
}
