package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// restConfig is what the agent needs out of a kubeconfig.
type restConfig struct {
	Server    string
	CAData    []byte
	CertData  []byte
	KeyData   []byte
	Token     string
	Username  string
	Password  string
	Insecure  bool
	Namespace string
}

func loadKubeconfig(path string) (*restConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	abs, _ := filepath.Abs(path)
	return parseKubeconfig(data, filepath.Dir(abs))
}

// parseKubeconfig accepts the YAML kubectl writes or the same document as
// JSON. Relative file references resolve against baseDir (the kubeconfig's
// directory), as kubectl does.
func parseKubeconfig(data []byte, baseDir string) (*restConfig, error) {
	var doc interface{}
	trimmed := strings.TrimSpace(string(data))
	if strings.HasPrefix(trimmed, "{") {
		if err := json.Unmarshal([]byte(trimmed), &doc); err != nil {
			return nil, fmt.Errorf("JSON kubeconfig: %w", err)
		}
	} else {
		var err error
		if doc, err = parseYAMLSubset(string(data)); err != nil {
			return nil, fmt.Errorf("YAML kubeconfig: %w", err)
		}
	}
	root, ok := doc.(map[string]interface{})
	if !ok {
		return nil, errors.New("kubeconfig is not a mapping")
	}

	contexts := asList(root["contexts"])
	clusters := asList(root["clusters"])
	users := asList(root["users"])
	var ctx map[string]interface{}
	if cur := str(root, "current-context"); cur != "" {
		if ctx = findNamed(contexts, cur, "context"); ctx == nil {
			return nil, fmt.Errorf("current-context %q not found in contexts", cur)
		}
	} else if len(contexts) == 1 {
		ctx = asMap(asMap(contexts[0])["context"])
	}
	var cluster, user map[string]interface{}
	if ctx != nil {
		cluster = findNamed(clusters, str(ctx, "cluster"), "cluster")
		user = findNamed(users, str(ctx, "user"), "user")
		if cluster == nil {
			return nil, fmt.Errorf("cluster %q of the current context not found", str(ctx, "cluster"))
		}
	} else if len(clusters) == 1 { // no contexts at all: use the only cluster/user
		cluster = asMap(asMap(clusters[0])["cluster"])
		if len(users) == 1 {
			user = asMap(asMap(users[0])["user"])
		}
	}
	if cluster == nil {
		return nil, errors.New("no current-context and no single cluster to use")
	}

	rc := &restConfig{Server: strings.TrimRight(str(cluster, "server"), "/"), Namespace: str(ctx, "namespace")}
	if rc.Server == "" {
		return nil, errors.New("cluster has no server")
	}
	rc.Insecure = str(cluster, "insecure-skip-tls-verify") == "true"
	var err error
	if rc.CAData, err = dataOrFile(cluster, "certificate-authority-data", "certificate-authority", baseDir); err != nil {
		return nil, err
	}
	if user != nil {
		if rc.CertData, err = dataOrFile(user, "client-certificate-data", "client-certificate", baseDir); err != nil {
			return nil, err
		}
		if rc.KeyData, err = dataOrFile(user, "client-key-data", "client-key", baseDir); err != nil {
			return nil, err
		}
		rc.Token = str(user, "token")
		if tf := str(user, "tokenFile"); rc.Token == "" && tf != "" {
			b, err := os.ReadFile(resolvePath(baseDir, tf))
			if err != nil {
				return nil, err
			}
			rc.Token = strings.TrimSpace(string(b))
		}
		rc.Username, rc.Password = str(user, "username"), str(user, "password")
	}
	if (len(rc.CertData) == 0) != (len(rc.KeyData) == 0) {
		return nil, errors.New("user has a client certificate without a key or vice versa")
	}
	return rc, nil
}

func dataOrFile(m map[string]interface{}, dataKey, fileKey, baseDir string) ([]byte, error) {
	if d := str(m, dataKey); d != "" {
		// kubectl writes standard base64; tolerate line breaks and missing padding.
		clean := strings.Map(func(r rune) rune {
			if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
				return -1
			}
			return r
		}, d)
		b, err := base64.StdEncoding.DecodeString(clean)
		if err != nil {
			if b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(clean, "=")); err != nil {
				return nil, fmt.Errorf("%s: %w", dataKey, err)
			}
		}
		return b, nil
	}
	if f := str(m, fileKey); f != "" {
		b, err := os.ReadFile(resolvePath(baseDir, f))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fileKey, err)
		}
		return b, nil
	}
	return nil, nil
}

func resolvePath(baseDir, p string) string {
	if filepath.IsAbs(p) || baseDir == "" {
		return p
	}
	return filepath.Join(baseDir, p)
}

func asMap(v interface{}) map[string]interface{} {
	m, _ := v.(map[string]interface{})
	return m
}

func asList(v interface{}) []interface{} {
	l, _ := v.([]interface{})
	return l
}

// str reads a scalar as a string whatever its JSON/YAML type.
func str(m map[string]interface{}, key string) string {
	switch v := m[key].(type) {
	case nil:
		return ""
	case string:
		return v
	case map[string]interface{}, []interface{}:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// findNamed returns item[field] of the list item whose name is name.
func findNamed(list []interface{}, name, field string) map[string]interface{} {
	for _, it := range list {
		m := asMap(it)
		if m != nil && str(m, "name") == name {
			if inner := asMap(m[field]); inner != nil {
				return inner
			}
			return map[string]interface{}{}
		}
	}
	return nil
}
