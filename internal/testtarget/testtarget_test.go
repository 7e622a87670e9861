package testtarget

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestStartReportsMappingsPresentInMaps(t *testing.T) {
	tg := Start(t, Options{VMAs: 10, Modules: 2, Specials: true})
	maps, err := os.ReadFile("/proc/" + strconv.Itoa(tg.Pid) + "/maps")
	if err != nil {
		t.Fatal(err)
	}
	for _, label := range []string{"module-0-text", "module-1-text", "memfd", "deleted", "long-path", "vmas"} {
		m, ok := tg.Mapping(label)
		if !ok {
			t.Fatalf("no mapping %q reported", label)
		}
		if !strings.Contains(string(maps), strconv.FormatUint(m.Start, 16)+"-") {
			t.Errorf("mapping %s at %#x not in the maps file", label, m.Start)
		}
	}
	tg.Stop()
	if _, err := os.Stat("/proc/" + strconv.Itoa(tg.Pid)); err == nil {
		t.Errorf("target %d still exists after Stop", tg.Pid)
	}
}

func TestExecKeepsPidAndDropsMappings(t *testing.T) {
	tg := Start(t, Options{VMAs: 4, OpenMapsFD: true})
	if tg.MapsFD < 0 {
		t.Fatal("no mapsfd line")
	}
	m, _ := tg.Mapping("vmas")
	if err := tg.Exec(); err != nil {
		t.Fatal(err)
	}
	maps, err := os.ReadFile("/proc/" + strconv.Itoa(tg.Pid) + "/maps")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(maps), strconv.FormatUint(m.Start, 16)+"-") {
		t.Errorf("mapping at %#x survived exec", m.Start)
	}
}
