package pvesim

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// The dev setup can seed the catalogue from JSON, so the image configs
// must survive it, flat beside the repository's own fields.
func TestOCIImageCatalogueIsJSON(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(DefaultOCIImages())
	if err != nil {
		t.Fatal(err)
	}
	var back []OCIImageSpec
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	t.Run("a round trip changes nothing", func(t *testing.T) {
		if !reflect.DeepEqual(back, DefaultOCIImages()) {
			t.Fatalf("%s", b)
		}
	})
	t.Run("the config fields sit beside the repository", func(t *testing.T) {
		if !strings.Contains(string(b), `"repository":"docker.io/library/nginx","tags":["1.27","stable","latest"],"size":73400320,"entrypoint":["/docker-entrypoint.sh"]`) {
			t.Fatalf("%s", b)
		}
	})
}
