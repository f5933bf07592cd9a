package sshd

import (
	"io"
	"strings"
)

// The coreutils (and bash's echo) real clients use to read and write
// container configs: cat, tee and echo, with their option parsing and their
// messages as Debian's coreutils 9 and bash 5.2 print them.

// usageError is getopt's report of an unknown short option.
func usageError(sh *shellRun, prog string, opt rune) uint32 {
	sh.errorf("%s: invalid option -- '%c'\nTry '%s --help' for more information.\n", prog, opt, prog)
	return 1
}

func runCat(sh *shellRun, args []string) uint32 {
	files, status, ok := catOperands(sh, args)
	if !ok {
		return status
	}
	if len(files) == 0 {
		files = []string{"-"}
	}
	for _, f := range files {
		if f == "-" {
			_, _ = io.Copy(sh.stdout, sh.stdin)
			continue
		}
		np := sh.srv.resolvePath(f)
		text := ""
		if !sh.truncated[np] {
			var err error
			if text, err = sh.srv.readFile(np); err != nil {
				sh.errorf("%s", fileErrorLine("cat", f, err))
				status = 1
				continue
			}
		}
		// cat refuses to grow the file it reads (cat f >> f).
		if sh.appended[np] && text != "" {
			sh.errorf("cat: %s: input file is output file\n", f)
			status = 1
			continue
		}
		_, _ = io.WriteString(sh.stdout, text)
	}
	return status
}

// catOperands parses cat's options, which getopt finds anywhere before "--".
// Only -u (a no-op in GNU cat) is simulated.
func catOperands(sh *shellRun, args []string) (files []string, status uint32, ok bool) {
	options := true
	for _, a := range args {
		switch {
		case options && a == "--":
			options = false
		case options && strings.HasPrefix(a, "--"):
			sh.errorf("pvesim: cat %s is not simulated\n", a)
			return nil, 1, false
		case options && len(a) > 1 && a[0] == '-':
			for _, c := range a[1:] {
				switch {
				case c == 'u':
				case strings.ContainsRune("AbeEnstTv", c):
					sh.errorf("pvesim: cat -%c is not simulated\n", c)
					return nil, 1, false
				default:
					return nil, usageError(sh, "cat", c), false
				}
			}
		default:
			files = append(files, a)
		}
	}
	return files, 0, true
}

// runTee copies stdin to stdout and to every file; a file that cannot be
// opened is reported and skipped, and the status is then 1.
func runTee(sh *shellRun, args []string) uint32 {
	appendMode, files, status, ok := teeOperands(sh, args)
	if !ok {
		return status
	}
	writers := []io.Writer{sh.stdout}
	var outputs []*openedOutput
	for _, f := range files {
		np := sh.srv.resolvePath(f)
		if err := sh.srv.checkWritable(np); err != nil {
			sh.errorf("%s", fileErrorLine("tee", f, err))
			status = 1
			continue
		}
		if np.kind == pathConfig {
			out := &openedOutput{np: np, target: f, append: appendMode}
			outputs = append(outputs, out)
			writers = append(writers, &out.buf)
		}
	}
	_, _ = io.Copy(io.MultiWriter(writers...), sh.stdin)
	for _, out := range outputs {
		if err := sh.commit(out); err != nil {
			sh.errorf("%s", fileErrorLine("tee", out.target, err))
			status = 1
		}
	}
	return status
}

func teeOperands(sh *shellRun, args []string) (appendMode bool, files []string, status uint32, ok bool) {
	options := true
	for _, a := range args {
		switch {
		case options && a == "--":
			options = false
		case options && (a == "--append" || a == "--ignore-interrupts"):
			appendMode = appendMode || a == "--append"
		case options && strings.HasPrefix(a, "--"):
			sh.errorf("pvesim: tee %s is not simulated\n", a)
			return false, nil, 1, false
		case options && len(a) > 1 && a[0] == '-':
			for _, c := range a[1:] {
				switch c {
				case 'a':
					appendMode = true
				case 'i': // interrupts are not delivered to builtins anyway
				case 'p':
					sh.errorf("pvesim: tee -p is not simulated\n")
					return false, nil, 1, false
				default:
					return false, nil, usageError(sh, "tee", c), false
				}
			}
		default:
			files = append(files, a)
		}
	}
	return appendMode, files, 0, true
}

// runEcho is bash's echo (and coreutils', which agrees on these options):
// leading words made only of -n, -e and -E letters are options.
func runEcho(sh *shellRun, args []string) uint32 {
	newline, escapes := true, false
	for len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' && strings.Trim(args[0][1:], "neE") == "" {
		for _, c := range args[0][1:] {
			switch c {
			case 'n':
				newline = false
			case 'e':
				escapes = true
			case 'E':
				escapes = false
			}
		}
		args = args[1:]
	}
	text := strings.Join(args, " ")
	if escapes && strings.Contains(text, `\`) {
		sh.errorf("pvesim: echo -e with backslash escapes is not simulated\n")
		return 1
	}
	if newline {
		text += "\n"
	}
	_, _ = io.WriteString(sh.stdout, text)
	return 0
}
