package registry

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/faultline/faultline/reference-services/discovery"
)

// The bbolt file holds three buckets:
//
//	meta       "index" -> the global index, 8 bytes big-endian
//	services   service -> the index of the service's last change, 8 bytes big-endian
//	instances  service "\x00" id -> record as JSON
//
// Names never hold "\x00" (validate rejects it), so the instance key is unambiguous.
var (
	bucketMeta      = []byte("meta")
	bucketServices  = []byte("services")
	bucketInstances = []byte("instances")
	keyIndex        = []byte("index")
)

// record is one lease as stored: the instance, its lease length, its wall-clock expiry
// and the index at which the instance last changed (its modify index).
type record struct {
	Instance  discovery.Instance `json:"instance"`
	TTLMillis int64              `json:"ttl_ms"`
	ExpiresAt time.Time          `json:"expires_at"`
	ModIndex  uint64             `json:"mod_index"`
}

// entry is one lease in memory. Everything but expires is immutable once the entry is
// in the registry's map; a re-register replaces the entry.
type entry struct {
	inst    discovery.Instance
	ttl     time.Duration
	expires time.Time
	mod     uint64
}

func (e *entry) live(now time.Time) bool { return now.Before(e.expires) }

func (e *entry) record() record {
	return record{Instance: e.inst, TTLMillis: e.ttl.Milliseconds(), ExpiresAt: e.expires.Round(0), ModIndex: e.mod}
}

func (rec record) entry() *entry {
	return &entry{
		inst:    rec.Instance,
		ttl:     time.Duration(rec.TTLMillis) * time.Millisecond,
		expires: rec.ExpiresAt,
		mod:     rec.ModIndex,
	}
}

// sameInstance tells whether a re-register changes what callers see.
func sameInstance(a, b discovery.Instance) bool {
	return a.Service == b.Service && a.ID == b.ID && a.Address == b.Address && maps.Equal(a.Meta, b.Meta)
}

func instanceKey(service, id string) []byte { return []byte(service + "\x00" + id) }

func createBuckets(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketMeta, bucketServices, bucketInstances} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}

func encodeUint(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func decodeUint(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func getRecord(tx *bolt.Tx, service, id string) (record, bool, error) {
	data := tx.Bucket(bucketInstances).Get(instanceKey(service, id))
	if data == nil {
		return record{}, false, nil
	}
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		return record{}, false, fmt.Errorf("decode %s/%s: %w", service, id, err)
	}
	return rec, true, nil
}

func putRecord(tx *bolt.Tx, rec record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode %s/%s: %w", rec.Instance.Service, rec.Instance.ID, err)
	}
	return tx.Bucket(bucketInstances).Put(instanceKey(rec.Instance.Service, rec.Instance.ID), data)
}

func deleteRecord(tx *bolt.Tx, service, id string) error {
	return tx.Bucket(bucketInstances).Delete(instanceKey(service, id))
}

// putIndexes records a change at index: the new global index and the last-change index
// of every service it touched.
func putIndexes(tx *bolt.Tx, index uint64, services ...string) error {
	if err := tx.Bucket(bucketMeta).Put(keyIndex, encodeUint(index)); err != nil {
		return err
	}
	b := tx.Bucket(bucketServices)
	for _, s := range services {
		if err := b.Put([]byte(s), encodeUint(index)); err != nil {
			return err
		}
	}
	return nil
}
