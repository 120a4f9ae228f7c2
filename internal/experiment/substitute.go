package experiment

import "strings"

// substitute replaces ${name} and $name placeholders from conf through v (strings, lists,
// objects), with Python string.Template.safe_substitute semantics as chaostoolkit-lib uses it:
// a whole-string "${x}" is replaced by the value itself (keeping its type); an embedded one by
// Python's str() of it; unknown names are left as they are; "$$" becomes "$".
func substitute(v any, conf map[string]any) any {
	switch t := v.(type) {
	case string:
		return substituteString(t, conf)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = substitute(e, conf)
		}
		return out
	case *Object:
		out := &Object{}
		for _, k := range t.Keys() {
			e, _ := t.Get(k)
			out.Set(k, substitute(e, conf))
		}
		return out
	}
	return v
}

func substituteString(s string, conf map[string]any) any {
	if strings.HasPrefix(s, "${") && strings.HasSuffix(s, "}") {
		if v, ok := conf[s[2:len(s)-1]]; ok && isIdentifier(s[2:len(s)-1]) {
			return v
		}
	}
	if !strings.Contains(s, "$") {
		return s
	}
	return templateSafeSubstitute(s, conf)
}

// templateSafeSubstitute is Python's string.Template(s).safe_substitute(conf).
func templateSafeSubstitute(s string, conf map[string]any) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '$' {
			b.WriteByte(s[i])
			i++
			continue
		}
		n, text := placeholder(s[i:], conf)
		b.WriteString(text)
		i += n
	}
	return b.String()
}

// placeholder reads the placeholder at the start of s (which begins with '$') and returns how
// many bytes it spans and what replaces it.
func placeholder(s string, conf map[string]any) (int, string) {
	if len(s) > 1 && s[1] == '$' {
		return 2, "$"
	}
	if len(s) > 1 && s[1] == '{' {
		if end := strings.IndexByte(s, '}'); end > 2 && isIdentifier(s[2:end]) {
			if v, ok := conf[s[2:end]]; ok {
				return end + 1, pyStr(v)
			}
			return end + 1, s[:end+1]
		}
		return 1, "$"
	}
	n := 1
	for n < len(s) && isIdentByte(s[n], n == 1) {
		n++
	}
	if n == 1 {
		return 1, "$"
	}
	if v, ok := conf[s[1:n]]; ok {
		return n, pyStr(v)
	}
	return n, s[:n]
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIdentByte(s[i], i == 0) {
			return false
		}
	}
	return true
}

func isIdentByte(c byte, first bool) bool {
	switch {
	case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		return true
	case c >= '0' && c <= '9':
		return !first
	}
	return false
}
