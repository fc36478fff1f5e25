package postgres

import (
	"testing"

	"sluice/internal/store/storetest"
)

// go test -run '^$' -bench InsertRoutes ./internal/store/postgres/
func BenchmarkInsertRoutes10000OneTx(b *testing.B) {
	s := openStore(b, bootstrapped(b))
	storetest.BenchInsertRoutes(b, s, 10000)
}

func BenchmarkInsertRoutesOnePerTx(b *testing.B) {
	s := openStore(b, bootstrapped(b))
	storetest.BenchInsertRoutes(b, s, 1)
}

func BenchmarkLoad10000Routes(b *testing.B) {
	s := openStore(b, bootstrapped(b))
	storetest.BenchLoad(b, s, 10000)
}

// go test -run '^$' -bench Page10000 ./internal/store/postgres/
func BenchmarkPage10000Routes(b *testing.B) {
	s := openStore(b, bootstrapped(b))
	storetest.BenchPage(b, s, 10000)
}

// go test -run '^$' -bench AdminWrites ./internal/store/postgres/
func BenchmarkAdminWrites(b *testing.B) {
	s := openStore(b, bootstrapped(b))
	storetest.BenchAdminWrites(b, s)
}
