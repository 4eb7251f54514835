package values

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMakeParse(t *testing.T) {
	for _, tc := range []struct {
		producer string
		seq      int64
		size     int
	}{
		{"p1", 0, 1},
		{"p1", 17, 100},
		{"p12.3", 999999, 4196},
		{"p2", 1234567, 1<<20 + 100},
	} {
		v := Make(tc.producer, tc.seq, tc.size)
		if tc.size > 30 {
			require.Len(t, v, tc.size)
		}
		id, err := Parse(v)
		require.NoError(t, err)
		require.Equal(t, ID{tc.producer, tc.seq}, id)
		if len(v) > 25 {
			_, err = Parse(v[:len(v)-1])
			require.ErrorIs(t, err, ErrMalformed, "torn value must fail")
			b := []byte(v)
			b[len(b)-3] ^= 1
			_, err = Parse(string(b))
			require.ErrorIs(t, err, ErrMalformed, "corrupt value must fail")
			_, err = Parse(v[:len(v)/2] + Make("p9", 1, 100))
			require.ErrorIs(t, err, ErrMalformed, "merged value must fail")
		}
	}
	require.NotEqual(t, Make("p1", 1, 100), Make("p1", 2, 100))
}

func FuzzParse(f *testing.F) {
	f.Add(Make("p1", 3, 64))
	f.Add("p1:000001:zzzzzzzz:")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := Parse(s)
		if err == nil {
			require.NotEmpty(t, id.Producer)
		}
	})
}
