package main

import (
	"bytes"
	"encoding/json"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// jsonCorpus holds lines that exercise every branch of the codec: plain
// ASCII, each escape, HTML characters, control characters, UTF-8 of every
// length, invalid UTF-8, U+2028/U+2029 and the record bytes RS and LF.
var jsonCorpus = []string{
	"", "a", "hello world", `say "hi"`, `back\slash`, "tab\there", "cr\rlf\n",
	"\b\f", "\x00\x01\x1e\x1f", "<a href=\"x\">&amp;</a>", "del\x7f",
	"héllo", "日本語", "emoji 😀 end", "\u2028\u2029", "bad \xff byte", "\xc3",
	"\xed\xa0\x80 surrogate bytes", "\xf4\x90\x80\x80 too high", "mix \"\\/\u00e9\xfe<",
	`{"k":"v","n":[1,2]}`, "ends with backslash \\",
}

// appendJSONString writes exactly what json.Marshal writes.
func TestAppendJSONStringMatchesMarshal(t *testing.T) {
	corpus := append([]string(nil), jsonCorpus...)
	// Each byte that needs escaping at every place of a line of three
	// words and a bit, so that every skip (16, 8, 1 bytes) meets it.
	for _, c := range "\"\\<>&\x01\n\u00e9\u2028\xff" {
		for at := 0; at <= 40; at++ {
			b := []byte(strings.Repeat("x", 41))
			corpus = append(corpus, string(b[:at])+string(c)+string(b[at:]))
		}
	}
	for _, s := range corpus {
		want, _ := json.Marshal(s)
		if got := appendJSONString([]byte("pre"), []byte(s)); string(got) != "pre"+string(want) {
			t.Errorf("%q: got %s, want %s", s, got[3:], want)
		}
	}
}

// unquoteJSON decodes what json.Unmarshal decodes and refuses what it
// refuses.
func TestUnquoteJSONMatchesUnmarshal(t *testing.T) {
	var texts []string
	for _, s := range jsonCorpus {
		m, _ := json.Marshal(s)
		texts = append(texts, string(m))
	}
	texts = append(texts,
		`"plain"`, `"plain"  `, "\"ws\"\t\r\n ", `"x" y`, `"x"y`, `"unterminated`, `"`, `""`,
		`"\'"`, `"\x"`, `"\u12"`, `"\u12g4"`, `"\uD83D\uDE00"`, `"\ud83d"`, `"\ud83dx"`,
		`"\udE00\ud83d"`, `"\ud83d\u0041"`, `"\ud83d\ud83d\ude00"`, `"\/\"\\\b\f\n\r\t"`,
		"\"raw \x01 control\"", "\"raw \xff invalid\"", "\"tab\tinside\"", `"\u0000"`,
		`"\u00e9\u00E9"`, `"a\`, `"a\u`, `"end\"`, `"x"""`,
	)
	for _, v := range texts {
		checkUnquote(t, []byte(v))
	}
}

func checkUnquote(t *testing.T, v []byte) {
	t.Helper()
	var want string
	werr := json.Unmarshal(v, &want)
	got, ok := unquoteJSON(v, new([]byte))
	switch {
	case werr != nil && ok:
		t.Errorf("%q: decoded to %q, but json.Unmarshal fails: %v", v, got, werr)
	case werr == nil && !ok:
		t.Errorf("%q: refused, but json.Unmarshal gives %q", v, want)
	case werr == nil && string(got) != want:
		t.Errorf("%q: got %q, want %q", v, got, want)
	}
}

// The fast path hands out a slice of the value itself, not a copy.
func TestUnquoteJSONPlainIsNotCopied(t *testing.T) {
	v := []byte(`"no escapes here"`)
	got, ok := unquoteJSON(v, new([]byte))
	if !ok || &got[0] != &v[1] {
		t.Errorf("got %q (ok %v), want a slice of the value", got, ok)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range jsonCorpus {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		want, _ := json.Marshal(string(s))
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
		// And back: the string a consumer prints is the line produced
		// (with invalid UTF-8 replaced).
		var back string
		if err := json.Unmarshal(want, &back); err != nil {
			t.Fatal(err)
		}
		if got, ok := unquoteJSON(want, new([]byte)); !ok || string(got) != back {
			t.Fatalf("%s: unquoted to %q (ok %v), want %q", want, got, ok, back)
		}
	})
}

func FuzzUnquoteJSON(f *testing.F) {
	for _, s := range jsonCorpus {
		m, _ := json.Marshal(s)
		f.Add(m)
	}
	f.Add([]byte(`"\ud83d\ude00"`))
	f.Add([]byte(`"\ud83d"x`))
	f.Fuzz(func(t *testing.T, v []byte) {
		if len(v) == 0 || v[0] != '"' {
			return
		}
		checkUnquote(t, v)
	})
}

// Every byte value, at every place in a word, is checked by the word-wide
// test exactly as by the table.
func TestHTMLUnsafe(t *testing.T) {
	for b := 0; b < 256; b++ {
		for at := 0; at < 8; at++ {
			w := []byte("abcdefgh")
			w[at] = byte(b)
			want := b < 0x80 && htmlSafe[b]
			var x uint64
			for i := 7; i >= 0; i-- {
				x = x<<8 | uint64(w[i])
			}
			if got := htmlUnsafe(x) == 0; got != want {
				t.Errorf("byte %#x at %d: safe %v, want %v", b, at, got, want)
			}
		}
	}
}

// scanBytes flags every control and non-ASCII byte value, at every place
// in strings of every length up to three words.
func TestScanBytes(t *testing.T) {
	for n := 1; n <= 24; n++ {
		for at := 0; at < n; at++ {
			for b := 0; b < 256; b++ {
				s := bytes.Repeat([]byte("a"), n)
				s[at] = byte(b)
				ctl, high := scanBytes(s)
				if want := b < 0x20; ctl != want {
					t.Fatalf("byte %#x at %d of %d: control %v, want %v", b, at, n, ctl, want)
				}
				if want := b >= 0x80; high != want {
					t.Fatalf("byte %#x at %d of %d: high %v, want %v", b, at, n, high, want)
				}
			}
		}
	}
}

// One line of the benchmarks' size (about 100 B), plain ASCII.
var benchLine = []byte("m12345:bcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnop")

func BenchmarkAppendJSONString(b *testing.B) {
	for _, n := range []int{1, 10} {
		line := bytes.Repeat(benchLine, n)
		b.Run(strconv.Itoa(len(line))+"B", func(b *testing.B) {
			var dst []byte
			b.SetBytes(int64(len(line)))
			for b.Loop() {
				dst = appendJSONString(dst[:0], line)
			}
		})
	}
}

func BenchmarkUnquoteJSON(b *testing.B) {
	for _, n := range []int{1, 10} {
		v := appendJSONString(nil, bytes.Repeat(benchLine, n))
		b.Run(strconv.Itoa(len(v))+"B", func(b *testing.B) {
			var scratch []byte
			b.SetBytes(int64(len(v)))
			for b.Loop() {
				if _, ok := unquoteJSON(v, &scratch); !ok {
					b.Fatal("refused")
				}
			}
		})
	}
}

// TestPlainASCII checks the one-pass tests (the assembly one where there
// is one, and the word one) against the obvious loop, for every byte
// value at every position of words, vectors and overlapping tails.
func TestPlainASCII(t *testing.T) {
	naive := func(s []byte) bool {
		for _, c := range s {
			if c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
				return false
			}
		}
		return true
	}
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32, 33, 47, 63, 64, 65, 96, 100} {
		for pos := range n {
			for c := range 256 {
				s := bytes.Repeat([]byte("a"), n)
				s[pos] = byte(c)
				want := naive(s)
				if got := plainASCII(s); got != want {
					t.Fatalf("plainASCII(%q) = %v, want %v", s, got, want)
				}
				if got := plainASCIIWords(s); got != want {
					t.Fatalf("plainASCIIWords(%q) = %v, want %v", s, got, want)
				}
			}
		}
	}
}

// TestKnownHTMLSafe checks the sixteen-byte test appendJSONString starts
// with against htmlSafe, for every byte value at every position: it may
// say false for a safe string (too short to check at once), never true
// for one that needs an escape.
func TestKnownHTMLSafe(t *testing.T) {
	naive := func(s []byte) bool {
		for _, c := range s {
			if c >= utf8.RuneSelf || !htmlSafe[c] {
				return false
			}
		}
		return true
	}
	for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 96, 100} {
		for pos := range n {
			for c := range 256 {
				s := bytes.Repeat([]byte("a"), n)
				s[pos] = byte(c)
				got, want := knownHTMLSafe(s), naive(s)
				if got && !want {
					t.Fatalf("knownHTMLSafe(%q) = true, but it needs escaping", s)
				}
				if !got && want && n >= 16 && runtime.GOARCH == "amd64" {
					t.Fatalf("knownHTMLSafe(%q) = false for a safe string of %d bytes", s, n)
				}
			}
		}
	}
}

// TestAppendPlain checks the copying check against plainASCII for every
// byte value at every position, and that it copies exactly the string,
// leaving dst as it was when it refuses.
func TestAppendPlain(t *testing.T) {
	for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 33, 47, 96, 100} {
		for pos := range max(n, 1) {
			for c := range 256 {
				s := bytes.Repeat([]byte("a"), n)
				if n > 0 {
					s[pos] = byte(c)
				}
				dst := []byte("prefix")
				got, ok := appendPlain(dst, s)
				if ok != plainASCII(s) {
					t.Fatalf("appendPlain(%q) says %v, plainASCII %v", s, ok, !ok)
				}
				want := "prefix"
				if ok {
					want += string(s)
				}
				if string(got) != want {
					t.Fatalf("appendPlain(%q) = %q, want %q", s, got, want)
				}
			}
		}
	}
}
