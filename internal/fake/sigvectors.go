package fake

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
)

// SignatureVector is one request of testdata/twilio-signatures.json, signed
// by Twilio's official Node library: the URL Twilio requested, its form
// parameters or raw body, the X-Twilio-Signature it carried and whether
// that signature is valid for the vector's auth token.
type SignatureVector struct {
	Name      string            `json:"name"`
	URL       string            `json:"url"`
	AuthToken string            `json:"authToken"`
	Params    map[string]string `json:"params"`
	Body      *string           `json:"body"`
	Signature string            `json:"signature"`
	Valid     bool              `json:"valid"`
	Note      string            `json:"note"`
}

// SignatureVectors is the whole file: the default auth token and vectors.
type SignatureVectors struct {
	AuthToken string            `json:"authToken"`
	Vectors   []SignatureVector `json:"vectors"`
}

// Form is the vector's parameters as a form.
func (v SignatureVector) Form() url.Values {
	form := url.Values{}
	for k, val := range v.Params {
		form.Set(k, val)
	}
	return form
}

// RawBody is the body Twilio sent: the raw body when the vector has one,
// else the encoded form.
func (v SignatureVector) RawBody() []byte {
	if v.Body != nil {
		return []byte(*v.Body)
	}
	return []byte(v.Form().Encode())
}

// LoadSignatureVectors reads testdata/twilio-signatures.json from the
// module root (found from the working directory up, so tests of any
// package can call it).
func LoadSignatureVectors() (SignatureVectors, error) {
	dir, err := os.Getwd()
	if err != nil {
		return SignatureVectors{}, err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return SignatureVectors{}, errors.New("signature vectors: no go.mod above the working directory")
		}
		dir = parent
	}
	b, err := os.ReadFile(filepath.Join(dir, "testdata", "twilio-signatures.json"))
	if err != nil {
		return SignatureVectors{}, fmt.Errorf("signature vectors: %w", err)
	}
	var f SignatureVectors
	if err := json.Unmarshal(b, &f); err != nil {
		return SignatureVectors{}, fmt.Errorf("signature vectors: %w", err)
	}
	if len(f.Vectors) == 0 {
		return SignatureVectors{}, errors.New("signature vectors: none in the file")
	}
	return f, nil
}

// TokenFor is the auth token v was signed with: its own, else the file's.
func (f SignatureVectors) TokenFor(v SignatureVector) string {
	if v.AuthToken != "" {
		return v.AuthToken
	}
	return f.AuthToken
}
