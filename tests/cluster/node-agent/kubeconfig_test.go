package main

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// What `kubectl config view --raw` writes: sequences at the key's indent.
var kubectlStyle = `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: ` + b64("CA-PEM") + `
    server: https://127.0.0.1:6443
  name: other
- cluster:
    certificate-authority-data: ` + b64("RIGHT-CA") + `
    server: https://127.0.0.1:16443/
  name: irsteps
contexts:
- context:
    cluster: other
    user: nobody
  name: wrong
- context:
    cluster: irsteps
    namespace: kube-system
    user: admin
  name: irsteps
current-context: irsteps
kind: Config
preferences: {}
users:
- name: nobody
  user:
    token: not-this-one
- name: admin
  user:
    client-certificate-data: ` + b64("CERT") + `
    client-key-data: ` + b64("KEY") + `
`

func TestKubeconfigKubectlStyle(t *testing.T) {
	rc, err := parseKubeconfig([]byte(kubectlStyle), "/nowhere")
	if err != nil {
		t.Fatal(err)
	}
	if rc.Server != "https://127.0.0.1:16443" || string(rc.CAData) != "RIGHT-CA" || string(rc.CertData) != "CERT" ||
		string(rc.KeyData) != "KEY" || rc.Token != "" || rc.Namespace != "kube-system" {
		t.Fatalf("%+v", rc)
	}
}

func TestKubeconfigIndentedListsQuotesCommentsAndFiles(t *testing.T) {
	dir := t.TempDir()
	_ = os.WriteFile(filepath.Join(dir, "ca.crt"), []byte("FILE-CA"), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "token"), []byte("tok-from-file\n"), 0o644)
	doc := `# written by hand
apiVersion: "v1"
kind: Config
current-context: 'test'   # trailing comment
clusters:
  - name: "c1"
    cluster:
      server: "https://localhost:6443"
      certificate-authority: ca.crt
contexts:
  -
    name: test
    context: {cluster: c1, user: u1}
users:
  - name: u1
    user:
      tokenFile: token
`
	path := filepath.Join(dir, "kubeconfig")
	_ = os.WriteFile(path, []byte(doc), 0o600)
	rc, err := loadKubeconfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Server != "https://localhost:6443" || string(rc.CAData) != "FILE-CA" || rc.Token != "tok-from-file" {
		t.Fatalf("%+v", rc)
	}
}

func TestKubeconfigJSON(t *testing.T) {
	doc := `{"apiVersion":"v1","kind":"Config","current-context":"x",
	 "clusters":[{"name":"c","cluster":{"server":"https://127.0.0.1:1","insecure-skip-tls-verify":true}}],
	 "contexts":[{"name":"x","context":{"cluster":"c","user":"u"}}],
	 "users":[{"name":"u","user":{"token":"abc"}}]}`
	rc, err := parseKubeconfig([]byte(doc), "")
	if err != nil {
		t.Fatal(err)
	}
	if rc.Server != "https://127.0.0.1:1" || !rc.Insecure || rc.Token != "abc" {
		t.Fatalf("%+v", rc)
	}
}

func TestKubeconfigErrors(t *testing.T) {
	for name, doc := range map[string]string{
		"missing context": "current-context: nope\ncontexts: []\nclusters: []\n",
		"no server":       "clusters:\n- name: c\n  cluster: {}\n",
		"cert without key": "clusters:\n- name: c\n  cluster:\n    server: https://x\nusers:\n- name: u\n  user:\n    client-certificate-data: " +
			b64("C") + "\ncontexts:\n- name: k\n  context:\n    cluster: c\n    user: u\ncurrent-context: k\n",
		"bad yaml": "a: b\n   c: d\n",
	} {
		if _, err := parseKubeconfig([]byte(doc), ""); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestYAMLSubsetShapes(t *testing.T) {
	v, err := parseYAMLSubset("a:\n  b: [x, 'y z', \"q\\\"\"]\n  c: ~\nlist:\n- - 1\n  - 2\n- k: v\n  k2: v2\nurl: http://h:1/p # c\n")
	if err != nil {
		t.Fatal(err)
	}
	m := v.(map[string]interface{})
	b := m["a"].(map[string]interface{})["b"].([]interface{})
	if b[0] != "x" || b[1] != "y z" || b[2] != `q"` || m["a"].(map[string]interface{})["c"] != nil {
		t.Fatalf("%#v", m["a"])
	}
	l := m["list"].([]interface{})
	if inner := l[0].([]interface{}); inner[0] != "1" || inner[1] != "2" {
		t.Fatalf("%#v", l)
	}
	if kv := l[1].(map[string]interface{}); kv["k"] != "v" || kv["k2"] != "v2" {
		t.Fatalf("%#v", l)
	}
	if m["url"] != "http://h:1/p" {
		t.Fatalf("url %#v", m["url"])
	}
}

func TestAPIClientFromRealPEM(t *testing.T) {
	cert, err := selfSignedCert("irsteps-node-0", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	doc := strings.NewReplacer("CA", b64(string(certPEM)), "CRT", b64(string(certPEM)), "KEYDATA", b64(string(keyPEM))).Replace(
		"clusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443\n    certificate-authority-data: CA\n" +
			"users:\n- name: u\n  user:\n    client-certificate-data: CRT\n    client-key-data: KEYDATA\n" +
			"contexts:\n- name: k\n  context:\n    cluster: c\n    user: u\ncurrent-context: k\n")
	rc, err := parseKubeconfig([]byte(doc), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newAPIClient(rc); err != nil {
		t.Fatal(err)
	}
}
