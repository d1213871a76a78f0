import "a.bf" // ERROR "ImportCycle: import cycle: testdata/cycle/a.bf imports testdata/cycle/b.bf imports testdata/cycle/a.bf"
import "b.bf" // ERROR "ImportCycle: import cycle: testdata/cycle/b.bf imports testdata/cycle/b.bf"

dim shared = 64
