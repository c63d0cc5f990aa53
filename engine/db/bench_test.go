package db

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kaifuku-ha/kaifuku/engine/db/pgtest"
)

// BenchmarkClaimFinish measures the engine's side of the queue: one op is a
// claim and the final status write, by 8 workers at once, over
// notifications of 50 hosts (claims skip hosts with one running). On
// PostgreSQL the workers are spread over two daemons (two pools).
func BenchmarkClaimFinish(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		d, err := OpenSQLite(context.Background(), b.TempDir()+"/b.db")
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		benchClaimFinish(b, []*DB{d})
	})
	b.Run("postgresql", func(b *testing.B) {
		url := pgtest.Database(b)
		var ds []*DB
		for range 2 {
			d, err := Open(context.Background(), url)
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			ds = append(ds, d)
		}
		benchClaimFinish(b, ds)
	})
}

func benchClaimFinish(b *testing.B, ds []*DB) {
	ctx := context.Background()
	d := ds[0]
	s, err := d.CreateSegment(ctx, Segment{Name: "seg", RecoveryMethod: "auto", ServiceType: "COMPUTE", Enabled: true})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 50 {
		if _, err := d.CreateHost(ctx, s.UUID, Host{Name: fmt.Sprintf("h%d", i), Type: "COMPUTE", ControlAttributes: "SSH"}); err != nil {
			b.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i := range b.N {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := d.CreateNotification(ctx, NewNotification{Type: "VM", Hostname: fmt.Sprintf("h%d", i%50),
				GeneratedTime: time.Now().UTC(), Payload: json.RawMessage(`{"instance_uuid":"` + uuid.NewString() + `"}`)}, 0)
			if err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	var done atomic.Int64
	var worker atomic.Int32
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := worker.Add(1)
		db := ds[int(w)%len(ds)]
		owner := fmt.Sprintf("w%d", w)
		for pb.Next() {
			for {
				n, ok, err := db.Claim(ctx, owner, time.Now().Add(time.Minute))
				if err != nil {
					b.Error(err)
					return
				}
				if ok {
					if _, err := db.Finish(ctx, n.UUID, owner, "finished", nil); err != nil {
						b.Error(err)
					}
					done.Add(1)
					break
				}
				if done.Load() >= int64(b.N) {
					return
				}
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "claims/s")
}
