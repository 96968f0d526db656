package oidc

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// keySet is the issuer's JWKS as an oidc.KeySet. go-oidc's RemoteKeySet
// refetches on every unknown key id (it only merges fetches in flight), so
// tokens with made-up key ids would make us fetch the JWKS once per token.
// This one fetches when the cache is empty or older than KeyCacheTTL, or
// for an unknown key id, and never more often than KeyRefetchInterval,
// with one fetch in flight. It keeps only public asymmetric signing keys,
// skips keys it cannot parse, and ignores the token's jku, x5u and jwk
// headers: keys come from the jwks_uri of the discovery document only.
type keySet struct {
	url    string
	client *http.Client
	now    func() time.Time
	algs   []jose.SignatureAlgorithm

	mu        sync.Mutex
	keys      []jose.JSONWebKey
	fetchedAt time.Time // of the last good fetch
	triedAt   time.Time // of the last attempt
	inflight  chan struct{}
}

func newKeySet(url string, client *http.Client, now func() time.Time, algs []string) *keySet {
	k := &keySet{url: url, client: client, now: now}
	for _, a := range algs {
		k.algs = append(k.algs, jose.SignatureAlgorithm(a))
	}
	return k
}

// fetchFailure carries, through the context go-oidc hands to
// VerifySignature, why the JWKS could not be fetched: go-oidc flattens the
// error into text, and a failed fetch is the issuer's fault, not the
// token's.
type fetchFailure struct{ err error }

type fetchFailureKey struct{}

func withFetchFailure(ctx context.Context, f *fetchFailure) context.Context {
	return context.WithValue(ctx, fetchFailureKey{}, f)
}

// VerifySignature verifies jwt with a key of the set and returns its
// payload.
func (k *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	jws, err := jose.ParseSigned(jwt, k.algs)
	if err != nil {
		return nil, fmt.Errorf("malformed jwt: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("not exactly one signature")
	}
	h := jws.Signatures[0].Header
	keys, stale := k.cached()
	if stale {
		if fresh, err := k.fetch(ctx); err == nil {
			keys = fresh
		} else if keys == nil {
			return nil, k.failed(ctx, err)
		}
	}
	payload, known, err := verifyWith(jws, keys, h.KeyID, h.Algorithm)
	if err == nil || known {
		return payload, err
	}
	// An unknown key id: the issuer may have rotated its keys.
	fresh, ferr := k.fetch(ctx)
	if errors.Is(ferr, errTooSoon) {
		return nil, fmt.Errorf("unknown key id %q", h.KeyID)
	}
	if ferr != nil {
		return nil, k.failed(ctx, ferr)
	}
	payload, _, err = verifyWith(jws, fresh, h.KeyID, h.Algorithm)
	return payload, err
}

func (k *keySet) failed(ctx context.Context, err error) error {
	if f, ok := ctx.Value(fetchFailureKey{}).(*fetchFailure); ok {
		f.err = err
	}
	return err
}

// verifyWith verifies jws with the keys of kid (every key when kid is
// empty) that fit alg. known reports whether any key had that kid.
func verifyWith(jws *jose.JSONWebSignature, keys []jose.JSONWebKey, kid, alg string) (payload []byte, known bool, err error) {
	for _, key := range keys {
		if kid != "" && key.KeyID != kid {
			continue
		}
		known = kid != ""
		if key.Algorithm != "" && key.Algorithm != alg {
			continue
		}
		if payload, err := jws.Verify(key.Key); err == nil {
			return payload, true, nil
		}
	}
	return nil, known, errors.New("no key of the issuer verifies the signature")
}

// cached returns the cached keys and whether they are missing or older
// than KeyCacheTTL.
func (k *keySet) cached() ([]jose.JSONWebKey, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys, k.keys == nil || k.now().Sub(k.fetchedAt) >= KeyCacheTTL
}

var errTooSoon = errors.New("the JWKS was fetched less than KeyRefetchInterval ago")

// fetch reads the JWKS, unless an attempt was made less than
// KeyRefetchInterval ago (errTooSoon); callers that come while a fetch is
// in flight wait for its result.
func (k *keySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	k.mu.Lock()
	if ch := k.inflight; ch != nil {
		k.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		if k.fetchedAt.Equal(k.triedAt) && k.keys != nil {
			return k.keys, nil
		}
		return nil, errors.New("fetching the JWKS failed")
	}
	if !k.triedAt.IsZero() && k.now().Sub(k.triedAt) < KeyRefetchInterval {
		k.mu.Unlock()
		return nil, errTooSoon
	}
	now := k.now()
	k.triedAt = now
	ch := make(chan struct{})
	k.inflight = ch
	k.mu.Unlock()

	keys, err := k.read(context.WithoutCancel(ctx))

	k.mu.Lock()
	defer k.mu.Unlock()
	k.inflight = nil
	close(ch)
	if err != nil {
		return nil, err
	}
	k.keys, k.fetchedAt = keys, now
	return keys, nil
}

// read fetches and parses the JWKS. Keys that do not parse, symmetric keys,
// private keys and encryption keys are left out; a set with no usable key
// is an error.
func (k *keySet) read(ctx context.Context) ([]jose.JSONWebKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := getJSON(ctx, k.client, k.url, &set); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, raw := range set.Keys {
		var key jose.JSONWebKey
		if json.Unmarshal(raw, &key) != nil || !key.Valid() || !key.IsPublic() || (key.Use != "" && key.Use != "sig") {
			continue
		}
		switch key.Key.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
			keys = append(keys, key)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("JWKS: no usable signing key")
	}
	return keys, nil
}
