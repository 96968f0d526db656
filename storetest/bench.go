package storetest

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Bench measures the store operations a login and an authenticated request
// make, on stores made by open. Parallel benchmarks use b.RunParallel, so
// -cpu sets how many goroutines share the store.
func Bench(b *testing.B, open Open) {
	ctx := context.Background()
	b.Run("User", func(b *testing.B) {
		s := open(b)
		u, err := s.UpsertIdentity(ctx, identity("github", "1", "octocat"), t0, gatehouse.EmailMatchNewAccount)
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.User(ctx, u.ID); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	// SessionUser is the query of every request with an access token.
	b.Run("SessionUser", func(b *testing.B) {
		s := open(b)
		u, err := s.UpsertIdentity(ctx, identity("github", "1", "octocat"), t0, gatehouse.EmailMatchNewAccount)
		if err != nil {
			b.Fatal(err)
		}
		sess := &gatehouse.Session{ID: "s1", UserID: u.ID, Secret: []byte("secret"), CurrentHash: "rt-s1",
			CreatedAt: t0, LastUsedAt: t0, IdleExpiresAt: t0.Add(time.Hour), ExpiresAt: t0.Add(time.Hour),
			UserAgent: "Mozilla/5.0", IP: "203.0.113.7"}
		if err := s.CreateSession(ctx, sess); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, _, err := s.SessionUser(ctx, "s1"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("UpsertIdentity/Returning", func(b *testing.B) {
		s := open(b)
		if _, err := s.UpsertIdentity(ctx, identity("github", "1", "octocat"), t0, gatehouse.EmailMatchNewAccount); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.UpsertIdentity(ctx, identity("github", "1", "octocat"), t0, gatehouse.EmailMatchNewAccount); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("UpsertIdentity/New", func(b *testing.B) {
		s := open(b)
		var n atomic.Int64
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				sub := fmt.Sprint(n.Add(1))
				if _, err := s.UpsertIdentity(ctx, identity("github", sub, "user"+sub), t0, gatehouse.EmailMatchNewAccount); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	// Rotate is a refresh's write: 64 clients, each rotating its own
	// session's token, as the load program's refresh scenario does.
	b.Run("Rotate", func(b *testing.B) {
		s := open(b)
		u, err := s.UpsertIdentity(ctx, identity("github", "1", "octocat"), t0, gatehouse.EmailMatchNewAccount)
		if err != nil {
			b.Fatal(err)
		}
		const clients = 64
		ids := make(chan string, clients)
		for i := range clients {
			id := fmt.Sprint("s", i)
			sess := &gatehouse.Session{ID: id, UserID: u.ID, Secret: []byte("secret"), CurrentHash: "rt-" + id + "-0",
				CreatedAt: t0, LastUsedAt: t0, IdleExpiresAt: t0.Add(time.Hour), ExpiresAt: t0.Add(time.Hour)}
			if err := s.CreateSession(ctx, sess); err != nil {
				b.Fatal(err)
			}
			ids <- id
		}
		b.ReportAllocs()
		b.SetParallelism((clients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			id := <-ids
			n := 0
			for pb.Next() {
				cur := fmt.Sprint("rt-", id, "-", n)
				n++
				next := fmt.Sprint("rt-", id, "-", n)
				_, _, err := s.UpdateSessionByToken(ctx, cur, t0, func(sess *gatehouse.Session, _ *gatehouse.User, retired *time.Time) (*gatehouse.Session, error) {
					if retired != nil {
						return nil, fmt.Errorf("%s: retired token", cur)
					}
					sess.CurrentHash = next
					sess.LastUsedAt = t0
					return sess, nil
				})
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("LoginState/CreateConsume", func(b *testing.B) {
		s := open(b)
		var n atomic.Int64
		exp := time.Now().Add(time.Hour)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				h := fmt.Sprint("state-", n.Add(1))
				if err := s.CreateLoginState(ctx, loginState(h, exp), "", 0); err != nil {
					b.Error(err)
					return
				}
				if _, err := s.ConsumeLoginState(ctx, h, "binding-"+h); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
