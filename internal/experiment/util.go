package experiment

import "sort"

func sortStrings(s []string) { sort.Strings(s) }

// asObject returns v as an *Object, or nil.
func asObject(v any) *Object {
	o, _ := v.(*Object)
	return o
}

// getString returns o[k] when it is a string.
func getString(o *Object, k string) (string, bool) {
	v, _ := o.Get(k)
	s, ok := v.(string)
	return s, ok
}
