package postgres

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"sluice/internal/store"
	"sluice/internal/store/storetest"
)

// The tests use the PostgreSQL server at 127.0.0.1:5432 (user postgres,
// trust auth), each in a database of its own, dropped afterwards. Without a
// server they skip, except under CI=true where they fail.

var (
	adminOnce sync.Once
	adminDB   *sql.DB
	adminErr  error
)

func serverOptions() Options {
	return Options{Host: "127.0.0.1", Port: 5432, User: "postgres", Database: "postgres", Timeout: 2 * time.Second}
}

func admin(t testing.TB) *sql.DB {
	t.Helper()
	adminOnce.Do(func() {
		cfg, err := serverOptions().ConnConfig()
		if err != nil {
			adminErr = err
			return
		}
		adminDB = stdlib.OpenDB(*cfg)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		adminErr = adminDB.PingContext(ctx)
	})
	if adminErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL at 127.0.0.1:5432 is not answering (required under CI): %v", adminErr)
		}
		t.Skipf("PostgreSQL at 127.0.0.1:5432 is not answering: %v", adminErr)
	}
	return adminDB
}

// freshDB creates an empty database and returns options pointing at it.
func freshDB(t testing.TB) Options {
	t.Helper()
	db := admin(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "sluice_test_" + hex.EncodeToString(b)
	if _, err := db.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := db.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	o := serverOptions()
	o.Database = name
	o.PollInterval = 100 * time.Millisecond
	return o
}

func bootstrapped(t testing.TB) Options {
	t.Helper()
	o := freshDB(t)
	if err := Bootstrap(context.Background(), o); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	return o
}

func openStore(t testing.TB, o Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), o)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openStore(t, bootstrapped(t))
	})
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	o := freshDB(t)
	st, err := Status(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if st.Bootstrapped || len(st.Executed) != 0 || !reflect.DeepEqual(st.Pending, Migrations()) {
		t.Fatalf("fresh status %+v; want nothing executed, %v pending", st, Migrations())
	}
	if _, err := Open(ctx, o); err == nil {
		t.Fatal("Open of a database that is not bootstrapped succeeded")
	}
	if _, err := Up(ctx, o); !errors.Is(err, ErrNotBootstrapped) {
		t.Fatalf("Up before bootstrap: %v; want ErrNotBootstrapped", err)
	}
	if err := Bootstrap(ctx, o); err != nil {
		t.Fatal(err)
	}
	if err := Bootstrap(ctx, o); !errors.Is(err, ErrBootstrapped) {
		t.Fatalf("second bootstrap: %v; want ErrBootstrapped", err)
	}
	st, err = Status(ctx, o)
	if err != nil || !st.Bootstrapped || len(st.Pending) != 0 || !reflect.DeepEqual(st.Executed, Migrations()) {
		t.Fatalf("status after bootstrap %+v, %v", st, err)
	}
	if ran, err := Up(ctx, o); err != nil || len(ran) != 0 {
		t.Fatalf("Up with nothing pending: %v, %v", ran, err)
	}

	s := openStore(t, o)
	svc := storetest.Record(t, "services", map[string]any{"name": "s", "host": "example.com"})
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, "services", svc) }); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()

	if err := Reset(ctx, o); err != nil {
		t.Fatal(err)
	}
	if st, err := Status(ctx, o); err != nil || st.Bootstrapped {
		t.Fatalf("status after reset %+v, %v", st, err)
	}
	if err := Bootstrap(ctx, o); err != nil {
		t.Fatalf("bootstrap after reset: %v", err)
	}
	s = openStore(t, o)
	if _, err := s.Get(ctx, "services", svc["id"].(string)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("entity survived reset: %v", err)
	}
}

func TestSchemaOption(t *testing.T) {
	ctx := context.Background()
	o := freshDB(t)
	o.Schema = "kong_schema"
	if err := Bootstrap(ctx, o); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, o)
	svc := storetest.Record(t, "services", map[string]any{"name": "s", "host": "example.com"})
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, "services", svc) }); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.DB().QueryRow(`SELECT count(*) FROM kong_schema.entities`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows in kong_schema.entities: %d, %v; want 1", n, err)
	}
	// The public schema has no sluice tables.
	o2 := o
	o2.Schema = ""
	if st, err := Status(ctx, o2); err != nil || st.Bootstrapped {
		t.Fatalf("public schema status %+v, %v; want not bootstrapped", st, err)
	}
}

func waitNotify(t *testing.T, ch <-chan struct{}, start time.Time, within time.Duration, what string) time.Duration {
	t.Helper()
	select {
	case <-ch:
		return time.Since(start)
	case <-time.After(within):
		t.Fatalf("%s: no notification within %v", what, within)
	}
	return 0
}

func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		case <-time.After(300 * time.Millisecond):
			return
		}
	}
}

func TestNotifyAcrossInstances(t *testing.T) {
	ctx := context.Background()
	o := bootstrapped(t)
	o.PollInterval = time.Hour // notifications only
	a := openStore(t, o)
	b := openStore(t, o)
	po := o
	po.DisableNotify = true
	po.PollInterval = 200 * time.Millisecond
	c := openStore(t, po) // polling only

	chB, chC := b.Notify(), c.Notify()
	drain(chB)
	drain(chC)
	for i := 0; i < 5; i++ {
		svc := storetest.Record(t, "services", map[string]any{"name": "s" + strconv.Itoa(i), "host": "example.com"})
		start := time.Now()
		if err := a.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, "services", svc) }); err != nil {
			t.Fatal(err)
		}
		d := waitNotify(t, chB, start, time.Second, "LISTEN/NOTIFY")
		dp := waitNotify(t, chC, start, time.Second, "polling fallback")
		t.Logf("write to notify: LISTEN %v, polling %v", d, dp)
		// The follower reads the change.
		if _, err := b.Get(ctx, "services", svc["id"].(string)); err != nil {
			t.Fatalf("follower read: %v", err)
		}
		ch, v, err := c.ChangesSince(ctx, uint64(i))
		if err != nil || len(ch) != 1 || ch[0].ID != svc["id"] || v != uint64(i+1) {
			t.Fatalf("follower changes since %d: %v, %d, %v", i, ch, v, err)
		}
	}
	// A failed write notifies nobody.
	drain(chB)
	_ = a.Update(ctx, func(tx store.Tx) error { return errors.New("no") })
	select {
	case <-chB:
		t.Fatal("notification after a rolled-back transaction")
	case <-time.After(300 * time.Millisecond):
	}
}

// proxy forwards TCP connections to PostgreSQL until it is cut; paused, it
// swallows what passes (a server that stopped answering).
type proxy struct {
	ln     net.Listener
	mu     sync.Mutex
	conns  []net.Conn
	paused atomic.Bool
}

func (p *proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.paused.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go p.pipe(u, c)
			go p.pipe(c, u)
		}
	}()
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *proxy) cut() {
	p.ln.Close()
	p.drop()
}

// drop closes the open connections but keeps accepting new ones.
func (p *proxy) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func TestListenerReconnects(t *testing.T) {
	ctx := context.Background()
	o := bootstrapped(t)
	o.PollInterval = time.Hour // notifications only
	writer := openStore(t, o)
	p := newProxy(t, "127.0.0.1:5432")
	fo := o
	fo.Port = p.port()
	follower := openStore(t, fo)
	ch := follower.Notify()
	write := func(name string) {
		t.Helper()
		svc := storetest.Record(t, "services", map[string]any{"name": name, "host": "example.com"})
		if err := writer.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, "services", svc) }); err != nil {
			t.Fatal(err)
		}
	}
	drain(ch)
	write("before")
	waitNotify(t, ch, time.Now(), time.Second, "before the cut")
	drain(ch)
	// The follower's connections die (its listener too); a write made
	// while it reconnects is announced once it is back.
	p.drop()
	write("during")
	waitNotify(t, ch, time.Now(), 3*time.Second, "after reconnecting")
	drain(ch)
	write("after")
	waitNotify(t, ch, time.Now(), time.Second, "after the reconnect")
	if _, err := follower.GetByKey(ctx, "services", "name", "after"); err != nil {
		t.Fatalf("follower read after reconnect: %v", err)
	}
}

func TestUnavailable(t *testing.T) {
	ctx := context.Background()
	o := bootstrapped(t)

	// Nothing listens: Open reports ErrUnavailable.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	bad := o
	bad.Port = closed
	if _, err := Open(ctx, bad); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Open with no server: %v; want ErrUnavailable", err)
	}
	if _, err := Status(ctx, bad); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("GetStatus with no server: %v; want ErrUnavailable", err)
	}

	// The server goes away under an open store.
	p := newProxy(t, "127.0.0.1:5432")
	po := o
	po.Port = p.port()
	po.Timeout = time.Second
	s := openStore(t, po)
	svc := storetest.Record(t, "services", map[string]any{"name": "s", "host": "example.com"})
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, "services", svc) }); err != nil {
		t.Fatal(err)
	}
	// A server that stops answering fails reads after the timeout.
	p.paused.Store(true)
	start := time.Now()
	if _, err := s.Get(ctx, "services", svc["id"].(string)); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Get from a silent server: %v; want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Get from a silent server took %v; want about the 1s timeout", d)
	}
	p.cut()
	checks := []struct {
		name string
		fn   func() error
	}{
		{"Get", func() error { _, err := s.Get(ctx, "services", svc["id"].(string)); return err }},
		{"List", func() error { _, err := s.List(ctx, "services", store.ListOptions{}); return err }},
		{"Update", func() error {
			return s.Update(ctx, func(tx store.Tx) error {
				return tx.Insert(ctx, "services", storetest.Record(t, "services", map[string]any{"host": "x.example.com"}))
			})
		}},
		{"Version", func() error { _, err := s.Version(ctx); return err }},
		{"Load", func() error { _, _, err := s.Load(ctx); return err }},
	}
	for _, c := range checks {
		if err := c.fn(); !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("%s with the server gone: %v; want ErrUnavailable", c.name, err)
		}
	}
}

// Writers on two nodes are serialised by the database: of concurrent
// inserts of one name exactly one wins, and versions never repeat.
func TestConcurrentNodes(t *testing.T) {
	ctx := context.Background()
	o := bootstrapped(t)
	nodes := []*Store{openStore(t, o), openStore(t, o)}
	const perNode = 6
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, clashes := 0, 0
	var other []error
	for i := 0; i < 2*perNode; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := nodes[i%2]
			same := storetest.Record(t, "services", map[string]any{"name": "same", "host": "example.com"})
			own := storetest.Record(t, "services", map[string]any{"name": "own-" + strconv.Itoa(i), "host": "example.com"})
			err := s.Update(ctx, func(tx store.Tx) error {
				if err := tx.Insert(ctx, "services", own); err != nil {
					return err
				}
				return tx.Insert(ctx, "services", same)
			})
			var ue *store.UniqueError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.As(err, &ue) && ue.Field == "name":
				clashes++
			default:
				other = append(other, err)
			}
		}()
	}
	wg.Wait()
	if len(other) > 0 || wins != 1 || clashes != 2*perNode-1 {
		t.Fatalf("%d wins, %d clashes, other errors %v; want 1 win", wins, clashes, other)
	}
	ch, v, err := nodes[0].ChangesSince(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if v != 1 || len(ch) != 2 {
		t.Fatalf("version %d, %d changes; want version 1 with 2 changes (%v)", v, len(ch), ch)
	}
	// Independent writes from both nodes all land, each with its own version.
	wg = sync.WaitGroup{}
	errs := make(chan error, 2*perNode)
	for i := 0; i < 2*perNode; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := storetest.Record(t, "consumers", map[string]any{"username": "c" + strconv.Itoa(i)})
			errs <- nodes[i%2].Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, "consumers", r) })
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	ch, v, err = nodes[1].ChangesSince(ctx, 1)
	if err != nil || v != 1+2*perNode || len(ch) != 2*perNode {
		t.Fatalf("after independent writes: version %d, %d changes, %v; want %d, %d", v, len(ch), err, 1+2*perNode, 2*perNode)
	}
	for i, c := range ch {
		if c.Version != uint64(i+2) {
			t.Fatalf("change %d at version %d; want %d", i, c.Version, i+2)
		}
	}
}

// TestIndexesExact: on PostgreSQL a transaction's writes are combined into
// few statements; the index rows they leave are still those a rebuild
// writes, through renames, swaps, moves and re-creations in one
// transaction.
func TestIndexesExact(t *testing.T) {
	storetest.IndexesExact(t, openStore(t, bootstrapped(t)))
}
