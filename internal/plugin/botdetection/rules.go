package botdetection

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// The built-in bot patterns are those Kong ships in
// kong/plugins/bot-detection/rules.lua, which come from the ua-parser
// project's regexes.yaml (uap-core, Apache-2.0). They are expressed here
// in Go's RE2 syntax and matched unanchored anywhere in the User-Agent.
var botPatterns = []string{
	// Pingdom
	`(Pingdom.com_bot_version_)(\d+)\.(\d+)`,
	// Facebook
	`(facebookexternalhit)/(\d+)\.(\d+)`,
	// Google Plus
	`Google.*/\+/web/snippet`,
	// Twitter
	`(Twitterbot)/(\d+)\.(\d+)`,
	// "/name-0.0" style bots
	`/((?:Ant-)?Nutch|[A-z]+[Bb]ot|[A-z]+[Ss]pider|Axtaris|fetchurl|Isara|ShopSalad|Tailsweep)[ \-](\d+)(?:\.(\d+)(?:\.(\d+))?)?`,
	// "name/0.0" style bots
	`(008|Altresium|Argus|BaiduMobaider|BoardReader|DNSGroup|DataparkSearch|EDI|Goodzer|Grub|INGRID|Infohelfer|LinkedInBot|LOOQ|Nutch|PathDefender|Peew|PostPost|Steeler|Twitterbot|VSE|WebCrunch|WebZIP|Y!J-BR[A-Z]|YahooSeeker|envolk|sproose|wminer)/(\d+)(?:\.(\d+)(?:\.(\d+))?)?`,
	// MSIECrawler
	`(MSIE) (\d+)\.(\d+)([a-z]\d?)?;.* MSIECrawler`,
	// downloaders and HTTP libraries
	`(Google-HTTP-Java-Client|Apache-HttpClient|http%20client|Python-urllib|HttpMonitor|TLSProber|WinHTTP|JNLP)(?:[ /](\d+)(?:\.(\d+)(?:\.(\d+))?)?)?`,
	// named crawlers
	`(1470\.net crawler|50\.nu|8bo Crawler Bot|Aboundex|Accoona-[A-z]+-Agent|AdsBot-Google(?:-[a-z]+)?|altavista|AppEngine-Google|archive.*?\.org_bot|archiver|Ask Jeeves|[Bb]ai[Dd]u[Ss]pider(?:-[A-Za-z]+)*|bingbot|BingPreview|blitzbot|BlogBridge|BoardReader(?: [A-Za-z]+)*|boitho.com-dc|BotSeer|\b\w*favicon\w*\b|\bYeti(?:-[a-z]+)?|Catchpoint bot|[Cc]harlotte|Checklinks|clumboot|Comodo HTTP\(S\) Crawler|Comodo-Webinspector-Crawler|ConveraCrawler|CRAWL-E|CrawlConvera|Daumoa(?:-feedfetcher)?|Feed Seeker Bot|findlinks|Flamingo_SearchEngine|FollowSite Bot|furlbot|Genieo|gigabot|GomezAgent|gonzo1|(?:[a-zA-Z]+-)?Googlebot(?:-[a-zA-Z]+)?|Google SketchUp|grub-client|gsa-crawler|heritrix|HiddenMarket|holmes|HooWWWer|htdig|ia_archiver|ICC-Crawler|Icarus6j|ichiro(?:/mobile)?|IconSurf|IlTrovatore(?:-Setaccio)?|InfuzApp|Innovazion Crawler|InternetArchive|IP2[a-z]+Bot|jbot\b|KaloogaBot|Kraken|Kurzor|larbin|LEIA|LesnikBot|Linguee Bot|LinkAider|LinkedInBot|Lite Bot|Llaut|lycos|Mail\.RU_Bot|masidani_bot|Mediapartners-Google|Microsoft .*? Bot|mogimogi|mozDex|MJ12bot|msnbot(?:-media *)?|msrbot|netresearch|Netvibes|NewsGator[^/]*|^NING|Nutch[^/]*|Nymesis|ObjectsSearch|Orbiter|OOZBOT|PagePeeker|PagesInventory|PaxleFramework|Peeplo Screenshot Bot|PlantyNet_WebRobot|Pompos|Read%20Later|Reaper|RedCarpet|Retreiver|Riddler|Rival IQ|scooter|Scrapy|Scrubby|searchsight|seekbot|semanticdiscovery|Simpy|SimplePie|SEOstats|SimpleRSS|SiteCon|Slurp|snappy|Speedy Spider|Squrl Java|TheUsefulbot|ThumbShotsBot|Thumbshots\.ru|TwitterBot|URL2PNG|Vagabondo|VoilaBot|^vortex|Votay bot|^voyager|WASALive.Bot|Web-sniffer|WebThumb|WeSEE:[A-z]+|WhatWeb|WIRE|WordPress|Wotbox|www\.almaden\.ibm\.com|Xenu(?:.s)? Link Sleuth|Xerka [A-z]+Bot|yacy(?:bot)?|Yahoo[a-z]*Seeker|Yahoo! Slurp|Yandex\w+|YodaoBot(?:-[A-z]+)?|YottaaMonitor|Yowedo|^Zao|^Zao-Crawler|ZeBot_www\.ze\.bz|ZooShot|ZyBorg)(?:[ /]v?(\d+)(?:\.(\d+)(?:\.(\d+))?)?)?`,
	// generic "name/0.0" matcher
	`(?:/[A-Za-z0-9\.]+)? *([A-Za-z0-9 \-_!\[\]:]*(?:[Aa]rchiver|[Ii]ndexer|[Ss]craper|[Bb]ot|[Ss]pider|[Cc]rawl[a-z]*))/(\d+)(?:\.(\d+)(?:\.(\d+))?)?`,
	// generic "name 0.0" matcher
	`(?:/[A-Za-z0-9\.]+)? *([A-Za-z0-9 _!\[\]:]*(?:[Aa]rchiver|[Ii]ndexer|[Ss]craper|[Bb]ot|[Ss]pider|[Cc]rawl[a-z]*)) (\d+)(?:\.(\d+)(?:\.(\d+))?)?`,
	// anything containing spider, scrape, crawl or bot (but not CUBOT)
	`((?:[A-z0-9]+|[A-z\-]+ ?)?(?: the )?(?:[Ss][Pp][Ii][Dd][Ee][Rr]|[Ss]crape|[A-Za-z0-9-]*(?:[^C][^Uu])[Bb]ot|[Cc][Rr][Aa][Ww][Ll])[A-z0-9]*)(?:(?:[ /]| v)(\d+)(?:\.(\d+)(?:\.(\d+))?)?)?`,
}

// bots is the built-in list joined into one expression: one scan per
// User-Agent instead of one per pattern.
var bots = func() *regexp.Regexp {
	expr := ""
	for i, p := range botPatterns {
		if i > 0 {
			expr += "|"
		}
		expr += "(?:" + p + ")"
	}
	return regexp.MustCompile(expr)
}()

// matcher is the fast form of botPatterns used per request. Go's regexp
// engine is slow on the large alternations above (hundreds of µs per
// User-Agent), so the list is reduced to an equivalent set for the yes/no
// question "does any pattern match somewhere": optional prefixes and
// suffixes of a pattern never change that answer and are dropped, and the
// big alternation is split into its alternatives, the literal ones checked
// with strings.Contains. TestFastMatcherEquivalent compares both forms.
type matcher struct {
	literals []string
	// versioned are words that count when followed by one of seps and a
	// digit ("name/1.0").
	versioned []versionedWords
	res       []*regexp.Regexp
}

type versionedWords struct {
	words []string
	seps  string
}

func (v versionedWords) match(ua string) bool {
	for _, w := range v.words {
		for off := 0; ; {
			i := strings.Index(ua[off:], w)
			if i < 0 {
				break
			}
			end := off + i + len(w)
			if end+1 < len(ua) && strings.IndexByte(v.seps, ua[end]) >= 0 && ua[end+1] >= '0' && ua[end+1] <= '9' {
				return true
			}
			off += i + 1
		}
	}
	return false
}

func (m *matcher) match(ua string) bool {
	if genericBot(ua) {
		return true
	}
	for _, l := range m.literals {
		if strings.Contains(ua, l) {
			return true
		}
	}
	for _, v := range m.versioned {
		if v.match(ua) {
			return true
		}
	}
	for _, re := range m.res {
		if re.MatchString(ua) {
			return true
		}
	}
	return false
}

var fastBots = func() *matcher {
	m := &matcher{literals: []string{
		"Google-HTTP-Java-Client", "Apache-HttpClient", "http%20client", "Python-urllib",
		"HttpMonitor", "TLSProber", "WinHTTP", "JNLP", "Scrape", "scrape", "favicon", "Charlotte", "charlotte",
	}, versioned: []versionedWords{
		{words: strings.Split("008|Altresium|Argus|BaiduMobaider|BoardReader|DNSGroup|DataparkSearch|EDI|Goodzer|Grub|INGRID|Infohelfer|LinkedInBot|LOOQ|Nutch|PathDefender|Peew|PostPost|Steeler|Twitterbot|VSE|WebCrunch|WebZIP|YahooSeeker|envolk|sproose|wminer", "|"), seps: "/"},
		{words: strings.Split("archiver|Archiver|indexer|Indexer|scraper|Scraper|bot|Bot|spider|Spider", "|"), seps: "/ "},
	}}
	exprs := []string{
		`Pingdom.com_bot_version_\d+\.\d`,
		`facebookexternalhit/\d+\.\d`,
		`Google.*/\+/web/snippet`,
		`Twitterbot/\d+\.\d`,
		`/(?:(?:Ant-)?Nutch|[A-z]+[Bb]ot|[A-z]+[Ss]pider|Axtaris|fetchurl|Isara|ShopSalad|Tailsweep)[ \-]\d`,
		`Y!J-BR[A-Z]/\d`,
		`MSIE \d+\.\d+(?:[a-z]\d?)?;.* MSIECrawler`,
	}
	big := botPatterns[8]
	inner := big[1:strings.Index(big, `)(?:[ /]v?(\d+)`)]
	for _, alt := range splitAlternatives(inner) {
		alt = trimOptional(alt)
		switch alt {
		case `\b\w*favicon\w*\b`, `[Cc]harlotte`:
			continue // literals above
		case `[Bb]ai[Dd]u[Ss]pider`:
			continue // implied by genericBot's "spider"
		}
		if regexp.QuoteMeta(alt) == alt {
			m.literals = append(m.literals, alt)
			continue
		}
		exprs = append(exprs, alt)
	}
	for _, e := range exprs {
		m.res = append(m.res, regexp.MustCompile(e))
	}
	return m
}()

// splitAlternatives splits a regex at its top-level '|'.
func splitAlternatives(expr string) []string {
	var out []string
	depth, start, inClass := 0, 0, false
	for i := 0; i < len(expr); i++ {
		switch ch := expr[i]; {
		case ch == '\\':
			i++
		case inClass:
			if ch == ']' {
				inClass = false
			}
		case ch == '[':
			inClass = true
			if i+1 < len(expr) && expr[i+1] == ']' {
				i++
			}
		case ch == '(':
			depth++
		case ch == ')':
			depth--
		case ch == '|' && depth == 0:
			out = append(out, expr[start:i])
			start = i + 1
		}
	}
	return append(out, expr[start:])
}

// trimOptional drops optional parts at both ends of an alternative (a
// trailing (?:...)?, (?:...)*, [...]* or x*, a leading (?:...)?): they never
// decide whether the alternative matches somewhere.
func trimOptional(alt string) string {
	for {
		n := len(alt)
		if n >= 2 && (alt[n-1] == '?' || alt[n-1] == '*') {
			body := alt[:n-1]
			switch {
			case strings.HasSuffix(body, ")"):
				if i := openingParen(body); i >= 0 && strings.HasPrefix(body[i:], "(?:") && !escaped(body, len(body)-1) {
					alt = body[:i]
					continue
				}
			case strings.HasSuffix(body, "]") && !escaped(body, len(body)-1):
				if i := strings.LastIndexByte(body, '['); i >= 0 && !escaped(body, i) {
					alt = body[:i]
					continue
				}
			case len(body) >= 1 && isWordByte(body[len(body)-1]) && !escaped(body, len(body)-1):
				alt = body[:len(body)-1]
				continue
			}
		}
		if strings.HasPrefix(alt, "(?:") {
			if end := closingParen(alt); end > 0 && end+1 < len(alt) && alt[end+1] == '?' {
				alt = alt[end+2:]
				continue
			}
		}
		return alt
	}
}

func escaped(s string, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && s[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

// openingParen finds the '(' matching the ')' that ends s.
func openingParen(s string) int {
	depth := 0
	for i := len(s) - 1; i >= 0; i-- {
		if escaped(s, i) {
			continue
		}
		switch s[i] {
		case ')':
			depth++
		case '(':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// closingParen finds the ')' matching the '(' that starts s.
func closingParen(s string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		if escaped(s, i) {
			continue
		}
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == ' '
}

// genericBot is the last pattern's core without a regexp (it also implies
// the "[Cc]rawl[a-z]*" and "[Bb]ai[Dd]u[Ss]pider" patterns):
// [Ss][Pp][Ii][Dd][Ee][Rr] | [Cc][Rr][Aa][Ww][Ll] (ASCII case-insensitive)
// or [^C][^Uu][Bb]ot (bot or Bot after two characters that are not "CU"/"Cu").
func genericBot(ua string) bool {
	if containsFold(ua, "spider") || containsFold(ua, "crawl") {
		return true
	}
	for off := 0; off < len(ua); {
		i := strings.Index(ua[off:], "ot")
		if i < 0 {
			return false
		}
		at := off + i - 1 // position of the b/B
		off += i + 1
		if at < 0 || ua[at] != 'b' && ua[at] != 'B' {
			continue
		}
		r1, n1 := utf8.DecodeLastRuneInString(ua[:at])
		if n1 == 0 {
			continue
		}
		r0, n0 := utf8.DecodeLastRuneInString(ua[:at-n1])
		if n0 == 0 {
			continue
		}
		if r0 != 'C' && r1 != 'U' && r1 != 'u' {
			return true
		}
	}
	return false
}

// containsFold reports whether s contains the lower-case ASCII word w,
// comparing ASCII letters case-insensitively.
func containsFold(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		j := 0
		for ; j < len(w); j++ {
			c := s[i+j]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != w[j] {
				break
			}
		}
		if j == len(w) {
			return true
		}
	}
	return false
}
