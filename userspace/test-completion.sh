#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test-completion: colosetup.bash-completion under bash-completion, with
# COMP_WORDS/COMP_CWORD set as bash sets them, against a made-up sysfs,
# dmsetup and lsblk. Every command and subcommand of colo-util.c's cmds[]
# and subcmds[] and of "colosetup --help", and every option of opts[] for
# each command that takes it, must be completed: a command or option added
# without completion fails here. TAP, then "completion: N passed, N failed".
here=$(cd "$(dirname "$0")" && pwd)
. "$here/test-tap.sh"
end() { tap_end completion; exit; }

bc=/usr/share/bash-completion/bash_completion
if [ ! -r "$bc" ]; then
	ok 1 "bash-completion installed ($bc; scripts/deps.sh installs it)"
	end
fi
[ -x "$here/colosetup" ]; ok $? "colosetup built" || end

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
# dm-2, dm-3: a pair with UUIDs; dm-4: LVM's; vm: a colo device made by
# dmsetup (no UUID), which only dmsetup ls names.
dev() { # dev DM-N NAME UUID
	mkdir -p "$t/sys/block/$1/dm"
	echo "$2" > "$t/sys/block/$1/dm/name"
	echo "$3" > "$t/sys/block/$1/dm/uuid"
}
id=0123456789abcdef0123456789abcdef
dev dm-2 guest "COLO-DEV-$id"
dev dm-3 guest-ingress "COLO-INGRESS-$id"
dev dm-4 vg-lv "LVM-abcdef"
mkdir -p "$t/bin"
cat > "$t/bin/dmsetup" <<'EOF'
#!/bin/sh
case "$*" in
"ls --target colo") printf 'vm\t(253:0)\nguest\t(253:2)\n' ;;
"ls --target colo-ingress") printf 'vm-ingress\t(253:1)\n' ;;
*) exit 1 ;;
esac
EOF
cat > "$t/bin/lsblk" <<'EOF'
#!/bin/sh
[ "$*" = "-pnro NAME" ] && printf '/dev/sda\n/dev/sdb\n/dev/nbd0\n'
EOF
chmod +x "$t/bin/dmsetup" "$t/bin/lsblk"

# comp WORD...: the completions (sorted, one a line) of the command line
# "colosetup WORD..." with the cursor at the end of the last WORD ("" for
# a new word); "=" is a word of its own, as bash splits "--opt=VAL".
comp() {
	COLOSETUP_SYSFS=$t/sys PATH="$t/bin:$PATH" bash -c '
		. "$1"; . "$2"; shift 2
		compopt() { :; }	# a builtin for completion functions only
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"; COMP_LINE=${COMP_LINE// = /=}; COMP_POINT=${#COMP_LINE}
		_colosetup "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}" | sort' \
		x "$bc" "$here/colosetup.bash-completion" "${cmd:-$here/colosetup}" "$@"
}
lines() { printf '%s\n' "$@" | sort; }
has() { # has WHAT WORD WORDS...: WORD is among the completions of WORDS
	local what=$1 w=$2 got
	shift 2
	got=$(comp "$@")
	grep -qxF -- "$w" <<< "$got"
	ok $? "$what" "$(echo $got)"
}

# The tables of colo-util.c: cmds[] ("create"), subcmds[] ("mirror start"),
# and opts[] with the commands of its BIT(CMD_...) mask.
src=$here/colo-util.c
cmds=$(sed -n '/^} cmds\[\] = {/,/^};/p' "$src" |
	sed -n 's/^\t{ "\([a-z-]*\)", \(CMD_[A-Z_]*\),.*/\2 \1/p')
subcmds=$(sed -n '/^} subcmds\[\] = {/,/^};/p' "$src" |
	sed -n 's/^\t{ "\([a-z-]*\)", "\([a-z-]*\)", \(CMD_[A-Z_]*\),.*/\3 \1 \2/p')
opts=$(sed -n '/^} opts\[\] = {/,/^};/p' "$src" | tr -d '\n' | tr '}' '\n' |
	sed -n 's/.*{ "\(-[^"]*\)", OPT_[A-Z_]*, [01], \(.*\) *$/\1 \2/p')
[ "$(echo "$cmds" | wc -l)" -ge 10 ]; ok $? "cmds[] read from colo-util.c" "$cmds"
[ "$(echo "$subcmds" | wc -l)" -ge 8 ]; ok $? "subcmds[] read from colo-util.c" "$subcmds"
[ "$(echo "$opts" | wc -l)" -ge 25 ]; ok $? "opts[] read from colo-util.c" "$opts"
# The words of a command (CMD_X -> "create", "mirror start").
words_of() {
	awk -v c="$1" '$1 == c { $1 = ""; print substr($0, 2); exit }' <<< "$cmds
$subcmds"
}

# Commands: each of cmds[] and each group of subcmds[], at the first word,
# and from its first letters.
top=$(comp "")
for c in $(awk '{ print $2 }' <<< "$cmds
$subcmds" | sort -u); do
	grep -qxF "$c" <<< "$top"; ok $? "command '$c' completed" "$(echo $top)"
	has "command '$c' completed from '${c:0:3}'" "$c" "${c:0:3}"
done
# Subcommands: each of subcmds[] after its group.
while read -r _ g s; do
	has "subcommand '$g $s' completed" "$s" "$g" ""
done <<< "$subcmds"
# The commands of --help (its "Commands:" lines: "  create NAME ...",
# "  mirror start ..."), so that one missing from the tables fails too.
help_cmds=$("$here/colosetup" --help | sed -n '/^Commands:/,/^$/p' |
	sed -n 's/^  \([a-z]\+\)\( \([a-z]\+\)\)\?\( .*\)\?$/\1 \3/p' | sort -u)
[ -n "$help_cmds" ]; ok $? "--help's commands read"
while read -r c s; do
	grep -qxF "$c" <<< "$top"; ok $? "--help's '$c' completed" "$(echo $top)"
	[ -n "$s" ] && has "--help's '$c $s' completed" "$s" "$c" ""
done <<< "$help_cmds"
# --help's options, on each command's lines (its continuation lines too).
"$here/colosetup" --help | sed -n '/^Commands:/,/^Options:/p' | awk '
	/^  [a-z]/ { c = $1; if ($2 ~ /^[a-z]+$/) c = c " " $2 }
	/^  [a-z]/ || /^      *\[/ { for (i = 2; i <= NF; i++) if (match($i, /-[-a-z]+/)) {
		o = substr($i, RSTART, RLENGTH); if (o != "-") print c "|" o } }' |
	sort -u > "$t/help-opts"
[ -s "$t/help-opts" ]; ok $? "--help's options read"
while IFS='|' read -r c o; do
	# shellcheck disable=SC2086
	has "--help: '$c' completes $o" "$o" $c -
done < "$t/help-opts"
# opts[]: each option for each command of its mask (~0U: every command).
while read -r o mask; do
	if [ "$mask" = "~0U" ]; then
		list=$(awk '{ print $1 }' <<< "$cmds
$subcmds")
	else
		list=$(grep -o 'CMD_[A-Z_]*' <<< "$mask")
	fi
	for c in $list; do
		w=$(words_of "$c")
		# shellcheck disable=SC2086
		has "opts[]: '$w' completes $o" "$o" $w "${o:0:1}"
	done
done <<< "$opts"
# "verify NAME" is "verify start NAME": its options without "start".
has "'verify' completes --rate" --rate verify -
has "'verify vm' completes --wait" --wait verify vm -
has "'-v' before the command is skipped" start -v mirror ""

# Values.
eq "the states of wait" "$(lines done failed in-sync degraded error primary verified)" \
	"$(comp wait vm "")"
eq "mirror's subcommands, exactly" "$(lines async rate start stop sync)" "$(comp mirror "")"
eq "names: UUID COLO-DEV- in sysfs, and dmsetup ls" "$(lines guest vm)" "$(comp status "")"
eq "names for remove: the ingresses too" "$(lines guest guest-ingress vm vm-ingress)" \
	"$(comp remove "")"
eq "names from a prefix" "guest" "$(comp failover g)"
eq "monitor: names, more than one" "$(lines guest vm)" "$(comp monitor vm "")"
eq "verify: subcommands and names" "$(lines guest ranges rate start stop vm)" "$(comp verify "")"
eq "mirror start NAME DEV: block devices" "$(lines /dev/nbd0 /dev/sda /dev/sdb)" \
	"$(comp mirror start vm "")"
eq "mirror start NAME DEV: nothing after DEV" "" "$(comp mirror start vm /dev/sda "")"
eq "mirror async NAME: names" "$(lines guest vm)" "$(comp mirror async "")"
eq "mirror async NAME MAX_LAG: sizes" "$(lines 16m 1m 256k 4m 64k 64m)" "$(comp mirror async vm "")"
eq "mirror async NAME MAX_LAG: nothing after" "" "$(comp mirror async vm 4m "")"
eq "mirror sync NAME: names" "$(lines guest vm)" "$(comp mirror sync "")"
eq "mirror rate NAME: names" "$(lines guest vm)" "$(comp mirror rate "")"
eq "mirror rate NAME RATE: auto, none" "$(lines auto none)" "$(comp mirror rate vm "")"
eq "verify rate NAME RATE: auto" "auto" "$(comp verify rate vm a)"
eq "mirror rate NAME RATE: nothing after" "" "$(comp mirror rate vm auto "")"
eq "verify rate NAME auto --: its option" "$(lines --help --min-rate --verbose)" \
	"$(comp verify rate vm auto --)"
eq "mirror start --async: sizes" "$(lines 16m 1m 256k 4m 64k 64m)" "$(comp mirror start vm /dev/sda --async "")"
eq "create --secondary: three legs" "$(lines /dev/nbd0 /dev/sda /dev/sdb)" \
	"$(comp create vm --secondary /dev/sda /dev/sdb "")"
eq "create --primary BASE: then options, without --secondary" \
	"$(lines --chunk --help --max-copies --metadata --region-size --verbose)" \
	"$(comp create vm --primary /dev/sda --)"
eq "--metadata: block devices" "$(lines /dev/nbd0 /dev/sda /dev/sdb)" \
	"$(comp create vm --metadata "")"
eq "a leg by path: the directory" "/dev/" "$(comp create vm --primary /de)"
eq "metadata dump DEV" "$(lines /dev/nbd0 /dev/sda /dev/sdb)" "$(comp metadata dump "")"
eq "--chunk: its sizes" "$(lines 128k 16k 1k 1m)" "$(comp create vm --chunk 1)"
eq "--rate: auto" "auto" "$(comp mirror start vm /dev/sda --rate "")"
eq "--min-rate: no word to offer" "" "$(comp verify vm --rate auto --min-rate "")"
fields=$("$here/colosetup" list -o help | awk 'NR > 1 { print $1 }' | sort)
[ "$(echo "$fields" | wc -l)" -ge 8 ]; ok $? "list -o help lists the fields (no device-mapper needed)"
eq "list -o: the fields and help" "$(lines $fields help)" "$(comp list -o "")"
eq "list -o +: fields to add" "$(lines $(sed 's/^/+/' <<< "$fields"))" "$(comp list -o +)"
eq "list -o name,: the next field" "$(lines name,mirror name,mirror_percent name,mirrored)" \
	"$(comp list -o name,mirr)"
eq "list --sort -: descending fields" "$(lines -name)" "$(comp list --sort -na)"
eq "list --options=: split at =" "$(lines name)" "$(comp list --options = na)"
eq "list --sort a field list" "$(lines mode,-size)" "$(comp list --sort mode,-si)"
# up and down (colotab(5)): offered when colosetup's --help has them.
printf '#!/bin/sh\n[ "$1" = --help ] && { "%s" --help; echo "  up NAME|--all"; }\n' \
	"$here/colosetup" > "$t/bin/colosetup-up"
chmod +x "$t/bin/colosetup-up"
printf '# NAME MODE\nvm secondary base=/dev/sda\n\ndb primary base=/dev/sdb\n' > "$t/colotab"
printf 'other primary base=/dev/sdc\n' > "$t/colotab2"
cup() { COLOTAB=$t/colotab cmd=$t/bin/colosetup-up comp "$@"; }
printf '#!/bin/sh\n"%s" "$@" | grep -v "^  up \\|^  down "\n' "$here/colosetup" \
	> "$t/bin/colosetup-noup"
chmod +x "$t/bin/colosetup-noup"
grep -qx up <<< "$(cmd=$t/bin/colosetup-noup comp "")"; ok $((!$?)) "no up without it in --help"
eq "up with it in --help" "up" "$(cup u)"
eq "up NAME: the colotab's names (\$COLOTAB)" "$(lines db vm)" "$(cup up "")"
eq "down --colotab FILE NAME: that file's" "other" "$(cup down --colotab "$t/colotab2" "")"
eq "up's options" "$(lines --all --colotab --help --pin --verbose)" "$(cup up --)"
eq "down's options" "$(lines --force)" "$(cup down --f)"
eq "status --json NAME" "$(lines guest vm)" "$(comp status --json "")"
eq "verify stop NAME" "$(lines guest vm)" "$(comp verify stop "")"
eq "--chunk=VALUE" "$(lines 64k)" "$(comp create vm --chunk = 6)"
eq "create --chunk 4k --primary: the leg" "$(lines /dev/nbd0 /dev/sda /dev/sdb)" \
	"$(comp create vm --chunk 4k --primary "")"
eq "fleece's subcommands, exactly" "$(lines needed start status stop)" "$(comp fleece "")"
eq "fleece start NAME" "$(lines guest vm)" "$(comp fleece start "")"
eq "fleece start NAME BUFFER: block devices" "$(lines /dev/nbd0 /dev/sda /dev/sdb)" \
	"$(comp fleece start vm "")"
eq "fleece start NAME BUFFER: then nothing" "" "$(comp fleece start vm /dev/sda "")"
eq "fleece start --needed: all" "all" "$(comp fleece start vm /dev/sda --needed "")"
eq "fleece start --timeout MS: no word, and its value is skipped" \
	"$(lines /dev/nbd0 /dev/sda /dev/sdb)" "$(comp fleece start --timeout 900 vm "")"
eq "fleece start's options" \
	"$(lines --help --needed --persistent --read-once --reattach --timeout --verbose)" \
	"$(comp fleece start vm /dev/sda --)"
eq "fleece start --persistent: not --reattach" \
	"$(lines --help --needed --read-once --timeout --verbose)" \
	"$(comp fleece start vm /dev/sda --persistent --)"
eq "fleece start --reattach: not --persistent" "" \
	"$(comp fleece start --reattach vm /dev/sda --pe)"
eq "fleece start --persistent: the word itself completes" "--persistent" \
	"$(comp fleece start vm /dev/sda --pers)"
eq "fleece start --reattach NAME BUFFER: block devices" "$(lines /dev/nbd0 /dev/sda /dev/sdb)" \
	"$(comp fleece start --reattach vm "")"
eq "fleece needed NAME RANGES: all" "all" "$(comp fleece needed vm "")"
eq "fleece status --json NAME" "$(lines guest vm)" "$(comp fleece status --json "")"
eq "fleece stop's options" "$(lines --force)" "$(comp fleece stop vm --f)"
mkdir -p "$t/files" && touch "$t/files/ranges.txt"
eq "dirty import NAME FILE: files" "$t/files/ranges.txt" "$(comp dirty import vm "$t/files/")"
has "dirty import NAME -: standard input" - dirty import vm -
eq "--timeout: no completion" "" "$(comp wait vm done --timeout "")"
eq "top level options" "$(lines --help --verbose --version)" "$(comp --)"
end
