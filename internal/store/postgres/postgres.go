// Package postgres is the cluster store (database = postgres): the generic
// entity layout of store/sqlstore in a PostgreSQL database, through pgx.
//
// Connection settings mirror Kong's pg_* settings (Options). The schema is
// created and upgraded by the embedded migrations (Bootstrap, Up, Status,
// Reset — `sluice migrations ...`); Open refuses a database whose migrations
// are not all executed.
//
// Change feed: every committed write transaction sends a NOTIFY on the
// "sluice_changes" channel from inside the transaction (so it is delivered
// exactly when the transaction commits); every Store LISTENs on a dedicated
// connection and wakes its Notify channels. Each Store also polls the
// version (Options.PollInterval), so a notification lost to a reconnect only
// delays a follower. Errors of an unreachable server are reported as
// store.ErrUnavailable.
package postgres

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"sluice/internal/store"
	"sluice/internal/store/sqlstore"
)

// Channel is the LISTEN/NOTIFY channel of the change feed.
const Channel = "sluice_changes"

// EventsChannel carries the cluster's events (store.Events).
const EventsChannel = "sluice_events"

// maxEventBytes is PostgreSQL's limit on a NOTIFY payload (8000 bytes,
// less than that with a long channel name).
const maxEventBytes = 7900

// Options are Kong's pg_* settings plus the feed's tuning.
type Options struct {
	Host     string        // pg_host (default 127.0.0.1)
	Port     int           // pg_port (default 5432)
	Database string        // pg_database (default kong)
	User     string        // pg_user (default kong)
	Password string        // pg_password
	Schema   string        // pg_schema: search_path when set
	Timeout  time.Duration // pg_timeout: connect timeout (default 5s)
	SSL      bool          // pg_ssl: use TLS when the server offers it
	// SSLRequired (pg_ssl_required) refuses a server without TLS.
	SSLRequired bool
	// SSLVerify (pg_ssl_verify) verifies the server's certificate and name
	// (against the system roots).
	SSLVerify bool
	// SSLVersion (pg_ssl_version) is the lowest TLS version: "tlsv1_1",
	// "tlsv1_2" (default), "tlsv1_3" or "any".
	SSLVersion string
	// SSLCert and SSLCertKey (pg_ssl_cert, pg_ssl_cert_key) are the files of
	// a client certificate.
	SSLCert, SSLCertKey string
	// MaxConns bounds the connection pool (pg_max_concurrent_queries;
	// default 8).
	MaxConns int

	// DisableNotify stops this Store from LISTENing: followers then rely on
	// polling alone. Writes always NOTIFY.
	DisableNotify bool
	// PollInterval is how often the version is polled (default 500ms).
	PollInterval time.Duration
}

// DefaultOptions returns Kong's defaults.
func DefaultOptions() Options {
	return Options{Host: "127.0.0.1", Port: 5432, Database: "kong", User: "kong", Timeout: 5 * time.Second}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Host == "" {
		o.Host = d.Host
	}
	if o.Port == 0 {
		o.Port = d.Port
	}
	if o.Database == "" {
		o.Database = d.Database
	}
	if o.User == "" {
		o.User = d.User
	}
	if o.Timeout <= 0 {
		o.Timeout = d.Timeout
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 8
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 500 * time.Millisecond
	}
	return o
}

func quoteValue(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// ConnConfig is the pgx configuration of these options.
func (o Options) ConnConfig() (*pgx.ConnConfig, error) {
	o = o.withDefaults()
	sslmode := "disable"
	switch {
	case o.SSL && o.SSLVerify:
		sslmode = "verify-full"
	case o.SSL && o.SSLRequired:
		sslmode = "require"
	case o.SSL:
		sslmode = "prefer"
	}
	secs := int((o.Timeout + time.Second - 1) / time.Second)
	dsn := strings.Join([]string{
		"host=" + quoteValue(o.Host),
		"port=" + strconv.Itoa(o.Port),
		"dbname=" + quoteValue(o.Database),
		"user=" + quoteValue(o.User),
		"password=" + quoteValue(o.Password),
		"sslmode=" + sslmode,
		"connect_timeout=" + strconv.Itoa(secs),
		"application_name=sluice",
	}, " ")
	if o.SSL && o.SSLCert != "" {
		dsn += " sslcert=" + quoteValue(o.SSLCert) + " sslkey=" + quoteValue(o.SSLCertKey)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres settings: %w", err)
	}
	if cfg.TLSConfig != nil {
		switch o.SSLVersion {
		case "tlsv1_1":
			cfg.TLSConfig.MinVersion = tls.VersionTLS11
		case "", "tlsv1_2":
			cfg.TLSConfig.MinVersion = tls.VersionTLS12
		case "tlsv1_3":
			cfg.TLSConfig.MinVersion = tls.VersionTLS13
		case "any":
		default:
			return nil, fmt.Errorf("postgres settings: unknown pg_ssl_version %q", o.SSLVersion)
		}
		for _, fb := range cfg.Fallbacks {
			if fb.TLSConfig != nil {
				fb.TLSConfig.MinVersion = cfg.TLSConfig.MinVersion
			}
		}
	}
	cfg.ConnectTimeout = o.Timeout
	if o.Schema != "" {
		cfg.RuntimeParams["search_path"] = o.Schema
	}
	return cfg, nil
}

func openDB(o Options) (*sql.DB, *pgx.ConnConfig, error) {
	cfg, err := o.ConnConfig()
	if err != nil {
		return nil, nil, err
	}
	db := stdlib.OpenDB(*cfg)
	o = o.withDefaults()
	db.SetMaxOpenConns(o.MaxConns)
	db.SetMaxIdleConns(o.MaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db, cfg, nil
}

// Store is the PostgreSQL store.
type Store struct {
	*sqlstore.Store
	opts    Options
	cfg     *pgx.ConnConfig
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once
	onEvent atomic.Pointer[func(string)]
}

var (
	_ store.Store  = (*Store)(nil)
	_ store.Events = (*Store)(nil)
)

// Publish implements store.Events: a NOTIFY on EventsChannel.
func (s *Store) Publish(ctx context.Context, payload string) error {
	if len(payload) > maxEventBytes {
		return fmt.Errorf("postgres: event of %d bytes, more than %d", len(payload), maxEventBytes)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	_, err := s.DB().ExecContext(ctx, `SELECT pg_notify($1, $2)`, EventsChannel, payload)
	return mapErr(err)
}

// OnEvent implements store.Events. Events are received while the store
// listens (not with DisableNotify).
func (s *Store) OnEvent(f func(payload string)) { s.onEvent.Store(&f) }

func dialect(o Options) sqlstore.Dialect {
	return sqlstore.Dialect{
		ReadTimeout: o.Timeout,
		Dollar:      true,
		JSONText:    `(data::jsonb ->> ?)`,
		IDList:      func(ids []string) (string, any) { return "id = ANY(?)", ids },
		MapErr:      mapErr,
		ReadTx:      &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true},
		Notify: func(version uint64) (string, []any) {
			return `SELECT pg_notify(?, ?)`, []any{Channel, strconv.FormatUint(version, 10)}
		},
		CombineWrites: true,
	}
}

// Open connects to the database, checks its migrations and starts following
// the change feed.
func Open(ctx context.Context, o Options) (*Store, error) {
	o = o.withDefaults()
	db, cfg, err := openDB(o)
	if err != nil {
		return nil, err
	}
	st, err := status(ctx, db)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	if !st.Bootstrapped {
		_ = db.Close()
		return nil, fmt.Errorf("postgres database %q is not bootstrapped: run 'sluice migrations bootstrap'", o.Database)
	}
	if len(st.Pending) > 0 {
		_ = db.Close()
		return nil, fmt.Errorf("postgres database %q has pending migrations %v: run 'sluice migrations up'", o.Database, st.Pending)
	}
	base := sqlstore.New(db, dialect(o))
	if _, err := base.EnsureIndexes(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	fctx, cancel := context.WithCancel(context.Background())
	s := &Store{Store: base, opts: o, cfg: cfg, cancel: cancel}
	if !o.DisableNotify {
		s.wg.Add(1)
		go s.listen(fctx)
	}
	s.wg.Add(1)
	go s.poll(fctx)
	return s, nil
}

// Close stops following the feed and closes the pool.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		s.cancel()
		s.wg.Wait()
		err = s.Store.Close()
	})
	return err
}

// listen LISTENs on a dedicated connection, reconnecting after failures.
func (s *Store) listen(ctx context.Context) {
	defer s.wg.Done()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		conn, err := pgx.ConnectConfig(ctx, s.cfg.Copy())
		if err == nil {
			_, err = conn.Exec(ctx, "LISTEN "+Channel+"; LISTEN "+EventsChannel)
			if err == nil {
				backoff = 100 * time.Millisecond
				// Changes made while we were not listening.
				s.Broadcast()
				for {
					var n *pgconn.Notification
					if n, err = conn.WaitForNotification(ctx); err != nil {
						break
					}
					if n.Channel == EventsChannel {
						if f := s.onEvent.Load(); f != nil && *f != nil {
							(*f)(n.Payload)
						}
						continue
					}
					s.Broadcast()
				}
			}
			cctx, ccancel := context.WithTimeout(context.Background(), time.Second)
			_ = conn.Close(cctx)
			ccancel()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		if backoff < 5*time.Second {
			backoff *= 2
		}
	}
}

// poll wakes the Notify channels when the version moved, whatever the
// notifications did.
func (s *Store) poll(ctx context.Context) {
	defer s.wg.Done()
	var last uint64
	if v, err := s.Version(ctx); err == nil {
		last = v
	}
	t := time.NewTicker(s.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v, err := s.Version(ctx)
		if err != nil || v == last {
			continue
		}
		last = v
		s.Broadcast()
	}
}

// IsUnavailable reports whether err means the server could not be reached.
func IsUnavailable(err error) bool { return errors.Is(err, store.ErrUnavailable) }
