package botdetection

import (
	"regexp"
	"strings"
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
		"HttpMonitor", "TLSProber", "WinHTTP", "JNLP",
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
		`[Cc]rawl[a-z]*[/ ]\d`,
		`[Ss][Pp][Ii][Dd][Ee][Rr]|[Ss]crape|[^C][^Uu][Bb]ot|[Cc][Rr][Aa][Ww][Ll]`,
	}
	big := botPatterns[8]
	inner := big[1:strings.Index(big, `)(?:[ /]v?(\d+)`)]
	for _, alt := range splitAlternatives(inner) {
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
