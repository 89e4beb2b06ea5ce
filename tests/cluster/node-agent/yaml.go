package main

// A parser for the YAML subset that kubeconfig files use (block mappings,
// block sequences incl. "- key: value" items, plain/quoted scalars, comments,
// empty flow collections). The Go standard library has no YAML package and
// the agent may not use third-party modules, so this is deliberately small:
// it yields map[string]interface{}, []interface{}, string and nil, and the
// kubeconfig layer interprets strings itself.

import (
	"fmt"
	"strconv"
	"strings"
)

type yamlLine struct {
	indent int
	text   string
	num    int
}

type yamlParser struct {
	lines []yamlLine
	pos   int
}

func parseYAMLSubset(data string) (interface{}, error) {
	var lines []yamlLine
	for i, raw := range strings.Split(strings.ReplaceAll(data, "\r\n", "\n"), "\n") {
		trimmed := strings.TrimRight(raw, " \t")
		content := strings.TrimLeft(trimmed, " ")
		if content == "" || strings.HasPrefix(content, "#") || content == "---" {
			continue
		}
		if content == "..." {
			break
		}
		if strings.HasPrefix(content, "\t") {
			return nil, fmt.Errorf("line %d: tabs are not allowed for indentation", i+1)
		}
		lines = append(lines, yamlLine{indent: len(trimmed) - len(content), text: content, num: i + 1})
	}
	if len(lines) == 0 {
		return map[string]interface{}{}, nil
	}
	p := &yamlParser{lines: lines}
	v, err := p.parseBlock(lines[0].indent)
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.lines) {
		return nil, fmt.Errorf("line %d: unexpected content %q", p.lines[p.pos].num, p.lines[p.pos].text)
	}
	return v, nil
}

func isSeqItem(t string) bool { return t == "-" || strings.HasPrefix(t, "- ") }

func (p *yamlParser) parseBlock(indent int) (interface{}, error) {
	if isSeqItem(p.lines[p.pos].text) {
		return p.parseSeq(indent)
	}
	return p.parseMap(indent)
}

func (p *yamlParser) parseSeq(indent int) (interface{}, error) {
	out := []interface{}{}
	for p.pos < len(p.lines) {
		l := &p.lines[p.pos]
		if l.indent < indent || (l.indent == indent && !isSeqItem(l.text)) {
			break
		}
		if l.indent > indent {
			return nil, fmt.Errorf("line %d: bad indentation", l.num)
		}
		rest := strings.TrimLeft(strings.TrimPrefix(l.text, "-"), " ")
		if rest == "" { // "-" alone: the item is the nested block below
			p.pos++
			if p.pos < len(p.lines) && p.lines[p.pos].indent > indent {
				v, err := p.parseBlock(p.lines[p.pos].indent)
				if err != nil {
					return nil, err
				}
				out = append(out, v)
			} else {
				out = append(out, nil)
			}
			continue
		}
		if _, _, isKey := splitYAMLKey(rest); isKey || isSeqItem(rest) {
			// "- key: v": the item is a block that starts at the column of
			// "key"; rewrite this line in place so parseBlock sees it there.
			l.indent += len(l.text) - len(rest)
			l.text = rest
			v, err := p.parseBlock(l.indent)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			continue
		}
		v, err := parseYAMLScalar(rest)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", l.num, err)
		}
		out = append(out, v)
		p.pos++
	}
	return out, nil
}

func (p *yamlParser) parseMap(indent int) (interface{}, error) {
	out := map[string]interface{}{}
	for p.pos < len(p.lines) {
		l := p.lines[p.pos]
		if l.indent < indent || (l.indent == indent && isSeqItem(l.text)) {
			break
		}
		if l.indent > indent {
			return nil, fmt.Errorf("line %d: bad indentation", l.num)
		}
		key, val, ok := splitYAMLKey(l.text)
		if !ok {
			return nil, fmt.Errorf("line %d: expected \"key: value\", got %q", l.num, l.text)
		}
		p.pos++
		switch {
		case val == "":
			// A nested block is indented deeper, except that a sequence may
			// sit at the key's own indentation (kubectl writes it that way).
			if p.pos < len(p.lines) {
				n := p.lines[p.pos]
				if n.indent > indent || (n.indent == indent && isSeqItem(n.text)) {
					v, err := p.parseBlock(n.indent)
					if err != nil {
						return nil, err
					}
					out[key] = v
					continue
				}
			}
			out[key] = nil
		case strings.HasPrefix(val, "|") || strings.HasPrefix(val, ">"):
			out[key] = p.blockScalar(indent, val[0] == '|')
		default:
			v, err := parseYAMLScalar(val)
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", l.num, err)
			}
			out[key] = v
		}
	}
	return out, nil
}

// blockScalar joins the more-indented lines after "key: |" (relative
// indentation inside the block is not preserved; kubeconfigs never need it).
func (p *yamlParser) blockScalar(indent int, literal bool) string {
	var parts []string
	for p.pos < len(p.lines) && p.lines[p.pos].indent > indent {
		parts = append(parts, p.lines[p.pos].text)
		p.pos++
	}
	if literal {
		return strings.Join(parts, "\n") + "\n"
	}
	return strings.Join(parts, " ") + "\n"
}

// splitYAMLKey splits "key: value" / "key:" (key possibly quoted).
func splitYAMLKey(t string) (key, val string, ok bool) {
	if t == "" || t[0] == '{' || t[0] == '[' {
		return "", "", false
	}
	if t[0] == '"' || t[0] == '\'' {
		end := closingQuote(t)
		if end < 0 || end+1 >= len(t) || t[end+1] != ':' || (end+2 < len(t) && t[end+2] != ' ') {
			return "", "", false
		}
		k, err := parseYAMLScalar(t[:end+1])
		if err != nil {
			return "", "", false
		}
		ks, _ := k.(string)
		return ks, strings.TrimSpace(t[end+2:]), true
	}
	if i := strings.Index(t, ": "); i >= 0 {
		return t[:i], strings.TrimSpace(t[i+2:]), !strings.Contains(t[:i], " #")
	}
	if strings.HasSuffix(t, ":") {
		return t[:len(t)-1], "", true
	}
	return "", "", false
}

// closingQuote returns the index of the quote that closes t[0], or -1.
func closingQuote(t string) int {
	q := t[0]
	for i := 1; i < len(t); i++ {
		switch {
		case q == '"' && t[i] == '\\':
			i++
		case q == '\'' && t[i] == '\'' && i+1 < len(t) && t[i+1] == '\'':
			i++
		case t[i] == q:
			return i
		}
	}
	return -1
}

func parseYAMLScalar(s string) (interface{}, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	switch s[0] {
	case '"', '\'':
		end := closingQuote(s)
		if end < 0 {
			return nil, fmt.Errorf("unterminated quoted string %s", s)
		}
		body := s[:end+1]
		if s[0] == '\'' {
			return strings.ReplaceAll(body[1:len(body)-1], "''", "'"), nil
		}
		if u, err := strconv.Unquote(body); err == nil {
			return u, nil
		}
		return body[1 : len(body)-1], nil
	case '{', '[':
		return parseFlow(s)
	}
	if i := strings.Index(s, " #"); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	if s == "~" || s == "null" || s == "Null" || s == "NULL" {
		return nil, nil
	}
	return s, nil
}

// parseFlow handles flat flow collections such as {}, [], [a, b], {a: b}.
func parseFlow(s string) (interface{}, error) {
	if i := strings.LastIndexAny(s, "]}"); i >= 0 {
		s = s[:i+1] // drop a trailing comment
	}
	inner := strings.TrimSpace(s[1 : len(s)-1])
	var items []string
	if inner != "" {
		for _, it := range strings.Split(inner, ",") {
			items = append(items, strings.TrimSpace(it))
		}
	}
	if s[0] == '[' {
		out := []interface{}{}
		for _, it := range items {
			v, err := parseYAMLScalar(it)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	out := map[string]interface{}{}
	for _, it := range items {
		k, v, ok := splitYAMLKey(it)
		if !ok {
			return nil, fmt.Errorf("bad flow mapping entry %q", it)
		}
		sv, err := parseYAMLScalar(v)
		if err != nil {
			return nil, err
		}
		out[k] = sv
	}
	return out, nil
}
