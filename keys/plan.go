package keys

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/token"
)

// policy is the rotation rule: which algorithm signs, how long a key signs,
// how early its successor is published and how long a retired key keeps
// verifying. plan applies it to the stored keys; every node and the command
// line run the same plan inside the store's transaction, so they agree.
type policy struct {
	alg      string
	rotation time.Duration
	retain   time.Duration
	sealer   *sealer
	// actor names who acts in the audit events of key changes.
	actor string
	// generate makes a new stored key; token.GenerateKey unless a test
	// needs something else.
	generate func(alg string, now time.Time) (*gatehouse.SigningKey, error)
}

// plan returns the keys as they should be stored at now, and reports
// whether that differs from stored. It never changes stored. The rules:
//
//   - A revoked key, and a retired key, is deleted retain after it was
//     revoked or retired (a revoked one is kept that long only to be
//     listed).
//   - Among the keys not revoked, the one that activated last signs. If
//     none has activated, the earliest planned one activates now; if there
//     is none, a new key is made that signs at once.
//   - Each key retires when the next one activates.
//   - When the signing key has signed for rotation minus PublishLead, or is
//     of another algorithm than the configured one, or rotate is set, a
//     successor is made that activates PublishLead from now (or at the end
//     of the rotation period, if later): it is published for at least one
//     JWKS cache lifetime before it signs. A planned key of the wrong
//     algorithm, which never signed, is replaced.
//   - With an encryption key, every private key is stored sealed. A sealed
//     key that the encryption key (or its absence) cannot open stops the
//     plan with ErrSealed: it would otherwise add keys beside ones that no
//     node can read.
func (p *policy) plan(stored []*gatehouse.SigningKey, now time.Time, rotate bool) ([]*gatehouse.SigningKey, bool, error) {
	var keys []*gatehouse.SigningKey
	for _, k := range stored {
		switch {
		case !k.RevokedAt.IsZero() && !now.Before(k.RevokedAt.Add(p.retain)):
		case !k.RetiresAt.IsZero() && !now.Before(k.RetiresAt.Add(p.retain)):
		default:
			c := *k
			keys = append(keys, &c)
		}
	}
	for _, k := range keys {
		if _, err := p.sealer.open(k.ID, k.PrivateKey); err != nil {
			return nil, false, err
		}
	}

	live := func() []*gatehouse.SigningKey {
		var l []*gatehouse.SigningKey
		for _, k := range keys {
			if k.RevokedAt.IsZero() {
				l = append(l, k)
			}
		}
		slices.SortStableFunc(l, func(a, b *gatehouse.SigningKey) int {
			return cmp.Or(a.ActivatesAt.Compare(b.ActivatesAt), a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
		})
		return l
	}
	add := func(activates time.Time) error {
		k, err := p.generate(p.alg, now)
		if err != nil {
			return err
		}
		k.ActivatesAt = activates.UTC().Truncate(time.Second)
		keys = append(keys, k)
		return nil
	}

	l := live()
	active, next := split(l, now)
	if active == nil {
		if len(next) > 0 {
			next[0].ActivatesAt = now
		} else if err := add(now); err != nil {
			return nil, false, err
		}
		l = live()
		active, next = split(l, now)
	}
	// A planned key of the wrong algorithm never signed: replace it.
	for _, n := range next {
		if n.Algorithm != p.alg {
			keys = slices.DeleteFunc(keys, func(k *gatehouse.SigningKey) bool { return k == n })
		}
	}
	l = live()
	active, next = split(l, now)
	due := rotate || active.Algorithm != p.alg || !now.Before(active.ActivatesAt.Add(p.rotation-PublishLead))
	if due && len(next) == 0 {
		at := now.Add(PublishLead)
		if end := active.ActivatesAt.Add(p.rotation); active.Algorithm == p.alg && !rotate && end.After(at) {
			at = end
		}
		if err := add(at); err != nil {
			return nil, false, err
		}
		l = live()
	}

	// Each live key retires when the next one activates. A key whose
	// successor activated before this plan saw it (keys stored before
	// rotation existed) retires now, so it keeps verifying for retain.
	for i, k := range l {
		var retires time.Time
		if i+1 < len(l) {
			switch successor := l[i+1].ActivatesAt; {
			case successor.After(now):
				retires = successor
			case !k.RetiresAt.IsZero() && !k.RetiresAt.After(now):
				retires = k.RetiresAt
			default:
				retires = now
			}
		}
		k.RetiresAt = retires
	}

	if p.sealer != nil {
		for _, k := range keys {
			if !isSealed(k.PrivateKey) {
				k.PrivateKey = p.sealer.seal(k.ID, k.PrivateKey)
			}
		}
	}
	slices.SortStableFunc(keys, func(a, b *gatehouse.SigningKey) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return keys, !sameKeys(stored, keys), nil
}

// split returns the live key that signs at now (the last one activated)
// and the keys planned to activate later, earliest first. l is sorted by
// activation.
func split(l []*gatehouse.SigningKey, now time.Time) (active *gatehouse.SigningKey, next []*gatehouse.SigningKey) {
	for _, k := range l {
		if k.ActivatesAt.After(now) {
			next = append(next, k)
		} else {
			active = k
		}
	}
	return active, next
}

func sameKeys(a, b []*gatehouse.SigningKey) bool {
	return slices.EqualFunc(a, b, func(x, y *gatehouse.SigningKey) bool {
		return x.ID == y.ID && x.Algorithm == y.Algorithm && string(x.PrivateKey) == string(y.PrivateKey) &&
			x.CreatedAt.Equal(y.CreatedAt) && x.ActivatesAt.Equal(y.ActivatesAt) &&
			x.RetiresAt.Equal(y.RetiresAt) && x.RevokedAt.Equal(y.RevokedAt)
	})
}

// checkAlgorithm reports whether alg is one Gatehouse generates keys for.
func checkAlgorithm(alg string) error {
	switch alg {
	case token.ES256, token.EdDSA, token.RS256:
		return nil
	}
	return fmt.Errorf("unsupported signing algorithm %q (use ES256, EdDSA or RS256)", alg)
}
