package edge

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var fieldsKeys = []string{"type", "to", "data"}

// FuzzFieldsMatchEncodingJSON holds the fast path's reader and writer to
// encoding/json: Fields accepts only valid JSON objects and finds the
// values encoding/json finds for the same keys; a string it unquotes
// reads as json.Unmarshal reads it; AppendQuoted writes what Marshal
// writes.
func FuzzFieldsMatchEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`{"type":"signal","to":"x","data":{"sdp":{"type":"offer","sdp":"v=0\r\n"}}}`,
		` { "type" : "a" , "type" : "b" , "x" : [1,-0.5e+3,true,false,null,{"a":[]}] } `,
		`{"Type":"a"}`, `{"\u0074ype":"a"}`, `{"\u212Aey":1}`, `{"tÿpe":1}`, `{"data":null}`,
		`{"to":"a\u00e9\ud83d\ude00\ud800\"\\\/\b\f\n\r\t\u0001<&>\u2028"}`,
		`{}`, `[]`, `{"a":1,}`, `{"a" 1}`, `{"a":01}`, `{"a":"\x"}`, "{\"a\":\"\x01\"}", `{"a":1} {}`, "\xff",
		`{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		// Writer: any text, as Marshal writes it.
		want, err := Marshal(string(doc))
		require.NoError(t, err)
		require.Equal(t, string(want), string(AppendQuoted(nil, string(doc))))

		vals := make([][]byte, len(fieldsKeys))
		FieldsOf(doc, fieldsKeys, vals) // on anything: no panic
		if !Fields(doc, fieldsKeys, vals) {
			return
		}
		require.True(t, json.Valid(doc), "Fields accepted invalid JSON %q", doc)
		// On a validated document FieldsOf finds the same.
		of := make([][]byte, len(fieldsKeys))
		require.True(t, FieldsOf(doc, fieldsKeys, of))
		require.Equal(t, vals, of)
		var m map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(doc, &m))
		for i, k := range fieldsKeys {
			v, ok := m[k]
			if !ok {
				assert.Nil(t, vals[i], "key %q", k)
				continue
			}
			require.NotNil(t, vals[i], "key %q", k)
			require.True(t, bytes.Equal(v, vals[i]), "key %q: %q != %q", k, vals[i], v)
			// Reader: a string value unquoted as encoding/json reads it.
			if !utf8.Valid(doc) || vals[i][0] != '"' {
				continue
			}
			var s string
			require.NoError(t, json.Unmarshal(vals[i], &s))
			if got, ok := AppendUnquoted(nil, vals[i]); ok {
				require.Equal(t, s, string(got))
			}
			if got, ok := PlainString(vals[i]); ok {
				require.Equal(t, s, got)
			}
		}
		// A struct with these fields decodes the same.
		var st struct {
			Type, To string
			Data     json.RawMessage
		}
		if utf8.Valid(doc) && json.Unmarshal(doc, &st) == nil {
			var typ, to string
			if StringField(vals[0], &typ) && StringField(vals[1], &to) {
				assert.Equal(t, st.Type, typ)
				assert.Equal(t, st.To, to)
			}
			assert.True(t, bytes.Equal(st.Data, vals[2]))
		}
	})
}
