package settings

import (
	"fmt"
	"strings"
)

// Entry is one "key = value" line of a kong.conf file.
type Entry struct {
	Key   string
	Value string
	Line  int // 1-based line of the key (the first line of a continued one)
}

// ParseConf reads kong.conf syntax the way Kong does:
//   - blank lines and lines whose first non-space character is '#' or ';'
//     are skipped;
//   - a line ending in '\' continues on the next line (the backslash is
//     removed, nothing is inserted);
//   - "key = value": the key is everything before the first '=', trimmed,
//     with every character other than a letter or digit turned into '_';
//     the value is trimmed;
//   - in the value, an unescaped '#' starts a comment (the comment and the
//     spaces before it are removed) and "\#" stands for a literal '#'.
//
// A line without '=' or a "[section]" line is an error. Later entries for
// the same key override earlier ones (the caller decides; all are returned).
func ParseConf(data string) ([]Entry, error) {
	var out []Entry
	lines := strings.Split(strings.ReplaceAll(data, "\r\n", "\n"), "\n")
	pending, pendingLine := "", 0
	for i, raw := range lines {
		n := i + 1
		t := strings.TrimSpace(raw)
		if t == "" || t[0] == '#' || t[0] == ';' {
			continue
		}
		// A trailing backslash (optionally followed by spaces) continues
		// the line.
		if r := strings.TrimRight(raw, " \t"); strings.HasSuffix(r, `\`) {
			if pending == "" {
				pendingLine = n
			}
			pending += r[:len(r)-1]
			continue
		}
		line := raw
		if pending != "" {
			line, n = pending+raw, pendingLine
			pending = ""
		}
		e, err := parseConfLine(line, n)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if pending != "" {
		e, err := parseConfLine(pending, pendingLine)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func parseConfLine(line string, n int) (Entry, error) {
	line = strings.TrimLeft(line, " \t")
	if strings.HasPrefix(line, "[") {
		return Entry{}, fmt.Errorf("line %d: sections are not supported: %q", n, strings.TrimSpace(line))
	}
	k, v, ok := strings.Cut(line, "=")
	if !ok {
		return Entry{}, fmt.Errorf("line %d: want key = value, got %q", n, strings.TrimSpace(line))
	}
	k = strings.TrimSpace(k)
	if k == "" {
		return Entry{}, fmt.Errorf("line %d: missing key before '='", n)
	}
	key := []byte(k)
	for i, c := range key {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			key[i] = '_'
		}
	}
	return Entry{Key: string(key), Value: stripComment(strings.TrimSpace(v)), Line: n}, nil
}

// stripComment removes a trailing comment (from the first '#' not preceded
// by a backslash, together with the spaces before it) and unescapes "\#".
func stripComment(v string) string {
	for i := 0; i < len(v); i++ {
		if v[i] == '#' && (i == 0 || v[i-1] != '\\') {
			v = strings.TrimRight(v[:i], " \t\r\n\f\v")
			break
		}
	}
	return strings.ReplaceAll(v, `\#`, "#")
}
