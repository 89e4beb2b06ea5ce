package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/tidwall/gjson"
	yaml "gopkg.in/yaml.v3"
)

// errInvalid marks bad input (exit 2): nothing was evaluated.
type errInvalid struct{ msg string }

func (e errInvalid) Error() string { return e.msg }

func invalid(format string, args ...interface{}) error {
	return errInvalid{fmt.Sprintf(format, args...)}
}

type secretKeySelector struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

type webhookContext struct {
	Endpoint   string             `json:"endpoint"`
	Method     string             `json:"method"`
	AuthSecret *secretKeySelector `json:"authSecret"`
	Metadata   map[string]string  `json:"metadata"`
}

type objectMeta struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Labels    map[string]string `json:"labels"`
}

type eventSource struct {
	Metadata objectMeta `json:"metadata"`
	Spec     struct {
		Webhook map[string]webhookContext `json:"webhook"`
	} `json:"spec"`
}

type dataFilter struct {
	Path       string   `json:"path"`
	Type       string   `json:"type"`
	Value      []string `json:"value"`
	Comparator string   `json:"comparator"`
	Template   string   `json:"template"`
}

type contextFilter struct {
	Type            string `json:"type"`
	Subject         string `json:"subject"`
	Source          string `json:"source"`
	DataContentType string `json:"datacontenttype"`
}

type filters struct {
	Data                []dataFilter      `json:"data"`
	DataLogicalOperator string            `json:"dataLogicalOperator"`
	Context             *contextFilter    `json:"context"`
	Exprs               []json.RawMessage `json:"exprs"`
	ExprLogicalOperator string            `json:"exprLogicalOperator"`
	Time                json.RawMessage   `json:"time"`
	Script              string            `json:"script"`
}

type dependency struct {
	Name                   string          `json:"name"`
	EventSourceName        string          `json:"eventSourceName"`
	EventName              string          `json:"eventName"`
	Filters                *filters        `json:"filters"`
	FiltersLogicalOperator string          `json:"filtersLogicalOperator"`
	Transform              json.RawMessage `json:"transform"`
}

type paramSource struct {
	DependencyName  string  `json:"dependencyName"`
	ContextKey      string  `json:"contextKey"`
	ContextTemplate string  `json:"contextTemplate"`
	DataKey         string  `json:"dataKey"`
	DataTemplate    string  `json:"dataTemplate"`
	Value           *string `json:"value"`
	UseRawData      bool    `json:"useRawData"`
}

type parameter struct {
	Src       *paramSource `json:"src"`
	Dest      string       `json:"dest"`
	Operation string       `json:"operation"`
}

// trigger keeps its template as JSON: parameters are applied to it as
// argo-events applies them, to the JSON of the template.
type trigger struct {
	Template   json.RawMessage `json:"template"`
	Parameters []parameter     `json:"parameters"`
}

type sensorSpec struct {
	Dependencies []dependency `json:"dependencies"`
	Triggers     []trigger    `json:"triggers"`
}

type sensor struct {
	Metadata objectMeta `json:"metadata"`
	Spec     sensorSpec `json:"spec"`
}

// manifest is one document of a YAML file, as JSON.
type manifest struct {
	raw   []byte
	kind  string
	name  string
	where string
}

// readManifests reads every document of a YAML file.
func readManifests(path string) ([]manifest, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, invalid("%s: %v", path, err)
	}
	decoder := yaml.NewDecoder(bytes.NewReader(text))
	var out []manifest
	for index := 1; ; index++ {
		var doc interface{}
		err := decoder.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, invalid("%s: document %d is not YAML: %v", path, index, err)
		}
		if doc == nil {
			continue
		}
		raw, err := json.Marshal(doc)
		if err != nil {
			return nil, invalid("%s: document %d: %v", path, index, err)
		}
		out = append(out, manifest{
			raw:   raw,
			kind:  gjson.GetBytes(raw, "kind").String(),
			name:  gjson.GetBytes(raw, "metadata.name").String(),
			where: fmt.Sprintf("%s (document %d)", path, index),
		})
	}
	return out, nil
}

// decode decodes a manifest into its type.
func decode(m manifest, into interface{}) error {
	if err := json.Unmarshal(m.raw, into); err != nil {
		return invalid("%s: %v", m.where, err)
	}
	return nil
}
