/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Jinja interpreter behind chat templates, through the public API:
 * values printed as Python prints them, operators, filters, tests, loop
 * variables, whitespace control, undefined values, errors with their line,
 * and the caps that stop runaway templates. The expected outputs are
 * jinja2's (3.1, with Hugging Face's settings) for the same templates;
 * those of tests/data/jinja-escaping.json (how strings are escaped by
 * repr, tojson, escape and |string) were rendered by jinja2 itself, with
 * tests/tools/make-jinja-escaping.py. */
#include <tern/chat-template.h>
#include <tern/error.h>

#include <json-glib/json-glib.h>
#include <string.h>

typedef struct {
  const char *path;
  const char *source;
  const char *expected;
} RenderCase;

typedef struct {
  const char *path;
  const char *source;
  gint code; /* TernEngineError */
  const char *message; /* a part of the error message */
} ErrorCase;

/* The messages every case sees. */
static const TernChatMessage messages[] = {
  { "system", "Be nice." },
  { "user", "  Hello <|im_start|> w\303\266rld\n" },
  { "assistant", "Hi there" },
};

/* Generated from jinja2's output for each template. */
static const RenderCase render_cases[] = {
  { "values/str",
    "{{ none }}|{{ true }}|{{ false }}|{{ 42 }}|{{ -7 }}|{{ 'x' }}",
    "None|True|False|42|-7|x" },
  { "values/float",
    "{{ 1.0 }} {{ 1e20 }} {{ 1e16 }} {{ 1e15 }} {{ 0.0001 }} {{ 0.00001 }} {{ 0.1 + 0.2 }} {{ 1/3 }} {{ -0.0 }} {{ 123456789.123 }} {{ 2.5e-7 }}",
    "1.0 1e+20 1e+16 1000000000000000.0 0.0001 1e-05 0.30000000000000004 0.3333333333333333 -0.0 123456789.123 2.5e-07" },
  { "values/repr",
    "{{ [1, 'a', none, true, 1.5] }} {{ {'a': 1, 'b': [2]} }} {{ (1,) }} {{ (1, 2) }} {{ [\"it's\", 'a\"b', '\\n', '\303\251', '\\x01', \"both'\\\"\"] }}",
    "[1, 'a', None, True, 1.5] {'a': 1, 'b': [2]} (1,) (1, 2) [\"it's\", 'a\"b', '\\n', '\303\251', '\\x01', 'both\\'\"']" },
  { "values/namespace",
    "{% set ns = namespace(a=1, b='x') %}{% set ns.a = ns.a + 1 %}{{ ns.a }} {{ ns }}",
    "2 <Namespace {'a': 2, 'b': 'x'}>" },
  { "arithmetic/int-float",
    "{{ 1 / 2 }} {{ 10 / 5 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 // -2 }} {{ 7.0 // 2 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 2 ** 3 ** 2 }} {{ True + 1 }} {{ 1 + 1.5 }}",
    "0.5 2.0 3 -4 -4 3.0 1024 0.5 64 2 2.5" },
  { "arithmetic/modulo",
    "{{ 5 % 3 }} {{ -5 % 3 }} {{ 3 % -2 }} {{ -3.5 % 2 }} {{ 7.5 % -2 }}",
    "2 1 -1 0.5 -0.5" },
  { "arithmetic/strings",
    "{{ 'a' + 'b' }} {{ 'a' * 3 }} {{ 2 * 'b' }} {{ [1] * 2 }} {{ [1] + [2] }} {{ 'x' ~ none ~ 1.50 ~ true ~ [1] }}",
    "ab aaa bb [1, 1] [1, 2] xNone1.5True[1]" },
  { "arithmetic/percent",
    "{{ '%s and %d' % ('a', 3) }} {{ '%5.2f' % 3.14159 }} {{ '%-5s|' % 'ab' }} {{ '%r' % 'x' }} {{ '%s' % none }}",
    "a and 3  3.14 ab   | 'x' None" },
  { "compare/chain",
    "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ (1, 2) == [1, 2] }} {{ {'a': 1} == {'a': 1} }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }}",
    "True False True False True True True" },
  { "compare/in",
    "{{ 1 in [1, 2] }} {{ 3 not in [1, 2] }} {{ 'a' in {'a': 1} }} {{ 'ell' in 'hello' }} {{ '' in 'x' }} {{ 'x' in undefined_name }}",
    "True True True True True False" },
  { "logic/and-or",
    "{{ 1 and 2 }} {{ 0 and 2 }} {{ 0 or 'x' }} {{ [] or none }} {{ not 1 }} {{ not '' }}",
    "2 0 x None False True" },
  { "logic/conditional",
    "{{ 'y' if 1 else 'n' }} {{ 'y' if 0 else 'n' }} [{{ 'y' if 0 }}] {{ 'a' if 0 else 'b' if 1 else 'c' }}",
    "y n [] b" },
  { "slices/string",
    "{{ 'abc'[1:] }} {{ 'abc'[::-1] }} {{ 'h\303\251llo'[1:3] }} {{ 'abc'[-2:] }} {{ 'abcdef'[::2] }} {{ 'abc'[5:] }}|{{ 'abc'[1] }}{{ 'abc'[-1] }}",
    "bc cba \303\251l bc ace |bc" },
  { "slices/list",
    "{{ [1, 2, 3, 4, 5][1:4:2] }} {{ [1, 2, 3][::-2] }} {{ [1, 2][5:] }} {{ [1, 2, 3][-1] }} {{ messages[1:]|length }} {{ messages[-1].role }}",
    "[2, 4] [3, 1] [] 3 2 assistant" },
  { "whitespace/trim-lstrip",
    "{% if true %}\n  x\n{% endif %}\n  {% if true -%}\n y\n{%- endif %}\n{# c #}\nz",
    "  x\nyz" },
  { "whitespace/plus",
    "  {%+ if true %}x{% endif %}\n  {% if true +%}\ny{% endif %}",
    "  x\ny" },
  { "whitespace/dash-expr",
    "a  {{- 'b' -}}  c\n{{ 'd' }}\n{%- for i in [1, 2] %}\n  {{ i }}\n{%- endfor %}",
    "abc\nd  1  2" },
  { "whitespace/comment",
    "{# comment #}a\n  {# indented comment #}\nb{#- stripped -#}  c",
    "a\nbc" },
  { "whitespace/trailing-newline",
    "x\n",
    "x" },
  { "whitespace/raw",
    "a {% raw %}x {{ y }} {% if %}{% endraw %} b",
    "a x {{ y }} {% if %} b" },
  { "for/loop-vars",
    "{% for m in messages %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.previtem.role if loop.previtem }}{{ loop.cycle('a', 'b') }};{% endfor %}",
    "10TrueFalse332a;21FalseFalse321systemb;32FalseTrue310usera;" },
  { "for/filter-else",
    "{% for i in [1, 2, 3] if i > 1 %}{{ loop.index }}/{{ loop.length }} {% else %}none{% endfor %}{% for i in [] %}{% else %}empty{% endfor %}",
    "1/2 2/2 empty" },
  { "for/unpack",
    "{% for a, b in [[1, 2], [3, 4]] %}{{ a }}{{ b }}{% endfor %} {% for k, v in {'x': 1, 'y': 2}.items() %}{{ k }}={{ v }};{% endfor %} {% for c in 'ab' %}{{ c }}.{% endfor %} {% for k in {'p': 1} %}{{ k }}{% endfor %}",
    "1234 x=1;y=2; a.b. p" },
  { "for/break-continue",
    "{% for m in messages %}{% if loop.index0 == 1 %}{% break %}{% endif %}{{ m.role }}{% endfor %} {% for i in range(5) %}{% if i is odd %}{% continue %}{% endif %}{{ i }}{% endfor %}",
    "system 024" },
  { "for/scope",
    "{% set x = 0 %}{% for i in range(3) %}{% set x = x + 1 %}{{ x }}{% endfor %}{{ x }} {% set y = 1 %}{% if true %}{% set y = 2 %}{% endif %}{{ y }}{% for i in [1] %}{% set z = 5 %}{% endfor %}[{{ z }}]",
    "1110 2[]" },
  { "for/nested-loop",
    "{% for i in [1, 2] %}{% for j in 'ab' %}{{ loop.index }}{{ j }}{% endfor %}{{ loop.index }} {% endfor %}",
    "1a2b1 1a2b2 " },
  { "set/tuple-block",
    "{% set a, b = 1, 2 %}{{ a }}{{ b }} {% set t = 1, %}{{ t }} {% set x %}  block {{ 1 }} {% endset %}[{{ x }}] {% set y | trim | upper %}  b  {% endset %}[{{ y }}]",
    "12 (1,) [  block 1 ] [B]" },
  { "macro/call",
    "{% macro f(a, b=2) %}[{{ a }}{{ b }}{{ caller() if caller is defined }}]{% endmacro %}{{ f(1) }}{{ f(1, b=3) }}{% call f(3) %}body{% endcall %}",
    "[12][13][32body]" },
  { "macro/recursion",
    "{% macro m(x) %}{{ x }}{% if x > 0 %}{{ m(x - 1) }}{% endif %}{% endmacro %}{{ m(3) }}",
    "3210" },
  { "macro/call-args",
    "{% macro list(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}{% call(x) list([1, 2]) %}<{{ x }}>{% endcall %}",
    "<1><2>" },
  { "filter/block",
    "{% filter upper %}abc{{ 'd' }}{% endfilter %}{% filter trim %}   x   {% endfilter %}",
    "ABCDx" },
  { "tests/types",
    "{{ 'abc' is string }}{{ 1 is number }}{{ True is number }}{{ none is none }}{{ [] is iterable }}{{ {} is mapping }}{{ 'x' is iterable }}{{ 1 is integer }}{{ 1.0 is float }}{{ True is boolean }}{{ x is defined }}{{ x is undefined }}{{ 1 is not string }}",
    "TrueTrueTrueTrueTrueTrueTrueTrueTrueTrueFalseTrueTrue" },
  { "tests/values",
    "{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 'a' is in 'abc' }}{{ 1 is sameas 1 }}{{ 'a' is equalto 'a' }}{{ 2 is gt 1 }}{{ 'ab' is lower }}{{ 'AB' is upper }}{{ none is sameas none }}",
    "TrueTrueTrueTrueTrueTrueTrueTrueTrueTrue" },
  { "filters/strings",
    "{{ '  x  '|trim }}|{{ 'xxaxx'|trim('x') }}|{{ 'a'|upper }}{{ '\303\211COLE'|lower }}|{{ 'hello world-foo (bar'|title }}|{{ 'hELLO'|capitalize }}|{{ 'aXbXc'|replace('X', '-') }}|{{ 'a b  c'|wordcount }}",
    "x|a|A\303\251cole|Hello World-Foo (Bar|Hello|a-b-c|3" },
  { "filters/numbers",
    "{{ 3.7|int }} {{ '42'|int }} {{ 'z'|int }} {{ ' 12 '|int }} {{ '1.5'|int }} {{ '3.5'|float }} {{ 1|float }} {{ 2.5|round }} {{ 3.14159|round(2) }} {{ 3|round }} {{ 2.675|round(2) }} {{ 2.5|round(0, 'ceil') }} {{ -2.5|round(0, 'floor') }} {{ -1|abs }} {{ [1, 2.5]|sum }}",
    "3 42 0 12 1 3.5 1.0 2.0 3.14 3 2.67 3.0 -3.0 1 3.5" },
  { "filters/sequences",
    "{{ [3, 1, 2]|sort }} {{ ['b', 'A', 'a']|sort }} {{ ['b', 'A', 'a']|sort(case_sensitive=true) }} {{ [3, 1]|sort(reverse=true) }} {{ [1, 2, 2]|unique|list }} {{ [1, 2]|reverse|list }} {{ 'ab'|reverse }} {{ [1, 2]|last }} {{ 'abc'|first }} {{ [3, 1]|min }} {{ [3, 1]|max }} {{ 'abc'|list }} {{ {'a': 1}|list }}",
    "[1, 2, 3] ['A', 'a', 'b'] ['A', 'a', 'b'] [3, 1] [1, 2] [2, 1] ba 2 a 1 3 ['a', 'b', 'c'] ['a']" },
  { "filters/length",
    "{{ 'abc'|length }} {{ {'a': 1}|length }} {{ '\303\251'|length }} {{ messages|length }} {{ undefined_name|length }} {{ [1, 2]|count }}",
    "3 1 1 3 0 2" },
  { "filters/join-map-select",
    "{{ [1, 'a']|join(', ') }} {{ messages|map(attribute='role')|join(',') }} {{ [1, 2]|map('string')|list }} {{ messages|selectattr('role', 'equalto', 'user')|list|length }} {{ messages|rejectattr('role', 'equalto', 'user')|map(attribute='role')|list }} {{ [0, 1, 2]|select|list }} {{ [0, 1, 2]|reject('odd')|list }} {{ none|selectattr('x')|list }} {{ messages|join(',', attribute='role') }}",
    "1, a system,user,assistant ['1', '2'] 1 ['system', 'assistant'] [1, 2] [0, 2] [] system,user,assistant" },
  { "filters/default",
    "{{ 'x'|default('d') }} {{ undefined_name|default('d') }} {{ ''|default('d', true) }} {{ none|default('n') }} {{ undefined_name|d('e') }}",
    "x d d None e" },
  { "filters/items-dictsort",
    "{{ {'b': 1, 'a': 2}|items|list }} {{ {'b': 1, 'a': 2}|dictsort }}",
    "[('b', 1), ('a', 2)] [('a', 2), ('b', 1)]" },
  { "filters/indent",
    "{{ 'a\\nb'|indent(2) }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(2, blank=true) }}|{{ 'a\\n\\nb\\n'|indent(2) }}|{{ 'x'|indent('--', true) }}",
    "a\n  b|  a\n  b|a\n  \n  b|a\n\n  b\n|--x" },
  { "filters/safe-escape",
    "{{ messages[0].content|safe + '<b>' }} {{ '<a>' + ('<b>'|safe) }} {{ '<&>\"\\''|e }} {{ ('x'|safe) ~ '<' }}",
    "Be nice.&lt;b&gt; &lt;a&gt;<b> &lt;&amp;&gt;&#34;&#39; x<" },
  { "filters/tojson",
    "{{ messages|tojson }}\n{{ {'a': [1, 2.5, none, true, 'x'], 'b': {}}|tojson(indent=4) }}\n{{ []|tojson(indent=2) }}{{ {'z': 1, 'a': 2}|tojson(sort_keys=true) }}{{ '\303\251\\n\"\\t\\x01'|tojson }}{{ (1, 2)|tojson }}{{ {1: 'a', true: 'b', none: 'c', 1.5: 'd'}|tojson }}{{ '\303\251'|tojson(true) }}{{ [1, {'a': 2}]|tojson(separators=(',', ':')) }}",
    "[{\"role\": \"system\", \"content\": \"Be nice.\"}, {\"role\": \"user\", \"content\": \"  Hello <|im_start|> w\303\266rld\\n\"}, {\"role\": \"assistant\", \"content\": \"Hi there\"}]\n{\n    \"a\": [\n        1,\n        2.5,\n        null,\n        true,\n        \"x\"\n    ],\n    \"b\": {}\n}\n[]{\"a\": 2, \"z\": 1}\"\303\251\\n\\\"\\t\\u0001\"[1, 2]{\"1\": \"b\", \"null\": \"c\", \"1.5\": \"d\"}\"\\u00e9\"[1,{\"a\":2}]" },
  { "methods/string",
    "{{ 'Hello World'.lower() }} {{ 'a b'.split(' ', 1) }} {{ 'abc'.startswith(('x', 'a')) }} {{ 'aXbXc'.replace('X', '-', 1) }} {{ 'hello world'.title() }} {{ 'a,b,c'.rsplit(',', 1) }} {{ '  a  b  c '.split(None, 1) }} {{ ' a b c '.rsplit(None, 1) }} {{ 'abc'.endswith('bc') }} {{ ' x '.strip() }}|{{ 'xax'.strip('x') }}|{{ ' x '.lstrip() }}|{{ ' x '.rstrip() }}|",
    "hello world ['a', 'b'] True a-bXc Hello World ['a,b', 'c'] ['a', 'b  c '] [' a b', 'c'] True x|a|x | x|" },
  { "methods/string-more",
    "{{ 'abc'.find('c') }} {{ 'abcabc'.count('b') }} {{ ', '.join(['a', 'b']) }} {{ 'a\\nb\\r\\nc'.splitlines() }} {{ '12'.isdigit() }} {{ 'AB'.isupper() }} {{ 'ab'.upper() }} {{ 'aBc'.capitalize() }}",
    "2 2 a, b ['a', 'b', 'c'] True True AB Abc" },
  { "methods/dict",
    "{{ messages[0].get('role') }} {{ messages[0].get('nope', 'dflt') }} {{ messages[0].get('nope') }} [{{ messages[0].nope }}] {{ messages[0]['nope'] is defined }} {{ {'a': 1}.keys()|list }} {{ {'a': 1}.values()|list }} {{ messages[0]['role'] }}",
    "system dflt None [] False ['a'] [1] system" },
  { "globals/range",
    "{{ range(3)|list }} {{ range(1, 5, 2)|list }} {{ range(5, 0, -2)|list }} {{ range(0)|list }}",
    "[0, 1, 2] [1, 3] [5, 3, 1] []" },
  { "globals/strftime",
    "{{ strftime_now('%Y-%m-%d %H:%M %b %d %A %B %j') }}",
    "2024-07-26 12:00 Jul 26 Friday July 208" },
  { "strings/escapes",
    "{{ 'a' 'b' }} {{ 'tab\\there' }} {{ '\\u00e9\\x41\\101' }} {{ \"q'\" }} {{ '\\d' }}",
    "ab tab\there \303\251AA q' \\d" },
  { "strings/braces",
    "{{ '{' }}{{ '}}' }}{{ {'a': {'b': 1}} }}",
    "{}}{'a': {'b': 1}}" },
  { "undefined/printing",
    "[{{ nothing }}] [{{ nothing|string }}] [{{ nothing|trim }}] {{ nothing is none }} {{ nothing == none }} {{ nothing ~ 'a' }} [{% for x in nothing %}{{ x }}{% endfor %}] {{ not nothing }} {{ nothing|list }}",
    "[] [] [] False False a [] True []" },
};

static const ErrorCase error_cases[] = {
  { "errors/undefined-attr", "line 1\n{{ x.y }}", TERN_ENGINE_ERROR_FORMAT, "line 2: 'x' is undefined" },
  { "errors/undefined-item", "{{ x[0] }}", TERN_ENGINE_ERROR_FORMAT, "line 1: 'x' is undefined" },
  { "errors/undefined-add", "\n\n{{ x + 1 }}", TERN_ENGINE_ERROR_FORMAT, "line 3: 'x' is undefined" },
  { "errors/undefined-call", "{{ x() }}", TERN_ENGINE_ERROR_FORMAT, "'x' is undefined" },
  { "errors/missing-key-attr", "{{ messages[0].nope.more }}", TERN_ENGINE_ERROR_FORMAT, "'dict object' has no attribute 'nope'" },
  { "errors/raise", "ok\n{{ raise_exception('boom') }}", TERN_ENGINE_ERROR_UNSUPPORTED, "line 2: boom" },
  { "errors/type-add", "{{ 'x' + 1 }}", TERN_ENGINE_ERROR_FORMAT, "can only concatenate str" },
  { "errors/type-compare", "{{ 'a' < 1 }}", TERN_ENGINE_ERROR_FORMAT, "not supported between instances of 'str' and 'int'" },
  { "errors/not-iterable", "{% for x in 1 %}{% endfor %}", TERN_ENGINE_ERROR_FORMAT, "'int' object is not iterable" },
  { "errors/division", "{{ 1 / 0 }}", TERN_ENGINE_ERROR_FORMAT, "division by zero" },
  { "errors/tojson-undefined", "{{ x|tojson }}", TERN_ENGINE_ERROR_FORMAT, "Undefined is not JSON serializable" },
  { "errors/macro-args", "{% macro f(a) %}{% endmacro %}{{ f(1, 2) }}", TERN_ENGINE_ERROR_FORMAT, "takes not more than 1 argument" },
  { "errors/list-append", "{{ [1].append(2) }}", TERN_ENGINE_ERROR_FORMAT, "no attribute 'append'" },
  { "syntax/unclosed-if", "a\n{% if true %}x", TERN_ENGINE_ERROR_FORMAT, "line 2: unexpected end of template, expected 'endif'" },
  { "syntax/unclosed-tag", "{{ x ", TERN_ENGINE_ERROR_FORMAT, "unexpected end of template" },
  { "syntax/unknown-tag", "\n{% frobnicate %}", TERN_ENGINE_ERROR_FORMAT, "line 2: unknown tag" },
  { "syntax/bad-bracket", "{{ (1 ] }}", TERN_ENGINE_ERROR_FORMAT, "unexpected ']'" },
  { "syntax/unterminated-string", "{{ 'abc }}", TERN_ENGINE_ERROR_FORMAT, "unterminated string" },
  { "syntax/comment", "{# never closed", TERN_ENGINE_ERROR_FORMAT, "missing end of comment" },
  { "syntax/break-outside", "{% break %}", TERN_ENGINE_ERROR_FORMAT, "'break' outside of a loop" },
  { "syntax/endfor-stray", "{% endfor %}", TERN_ENGINE_ERROR_FORMAT, "unknown tag 'endfor'" },
};

/* Renders @source with the messages above at 2024-07-26 12:00; NULL and
 * @error on failure. */
static char *
render (const char *source, GError **error)
{
  g_autoptr (TernChatTemplate) tmpl = tern_chat_template_new (source, -1, "<s>", "</s>", error);
  g_autoptr (GTimeZone) tz = g_time_zone_new_local ();
  g_autoptr (GDateTime) now = g_date_time_new (tz, 2024, 7, 26, 12, 0, 0);
  TernChatRenderOptions options;

  if (tmpl == NULL)
    return NULL;
  tern_chat_render_options_init (&options);
  options.now = now;
  g_autoptr (TernChatPrompt) prompt =
    tern_chat_template_render (tmpl, messages, G_N_ELEMENTS (messages), &options, error);
  return prompt ? g_strdup (tern_chat_prompt_text (prompt, NULL)) : NULL;
}

static void
test_render (gconstpointer data)
{
  const RenderCase *c = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *out = render (c->source, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (out, ==, c->expected);
}

static void
test_error (gconstpointer data)
{
  const ErrorCase *c = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *out = render (c->source, &error);

  g_assert_null (out);
  g_assert_error (error, TERN_ENGINE_ERROR, c->code);
  g_test_message ("%s", error->message);
  g_assert_true (g_str_has_prefix (error->message, "chat template line "));
  g_assert_nonnull (strstr (error->message, c->message));
}

/* raise_exception refuses the conversation: UNSUPPORTED, with its text. */
static void
test_raise_exception (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *out = render ("{% if messages[0].role == 'system' %}\n"
                                 "{{ raise_exception('System role not supported') }}{% endif %}", &error);

  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED);
  g_assert_cmpstr (error->message, ==, "chat template line 2: System role not supported");
}

/* Tags Tern does not implement are UNSUPPORTED at compile time. */
static void
test_unsupported_tag (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernChatTemplate) tmpl = tern_chat_template_new ("x\n{% include 'other.j2' %}", -1, NULL, NULL, &error);

  g_assert_null (tmpl);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "line 2"));
}

static void
check_cap (const char *source, const char *message)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *out = render (source, &error);

  g_assert_null (out);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, message));
}

/* Runaway templates stop with a clean error, and quickly. */
static void
test_caps (void)
{
  gint64 start = g_get_monotonic_time ();

  /* Loop iterations. */
  check_cap ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
             "loop iterations");
  /* range() as jinja2's sandbox limits it. */
  check_cap ("{{ range(1000000)|length }}", "range too big");
  /* Recursion depth. */
  check_cap ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "nest more than");
  /* Exponential work without loops: each call makes two. */
  check_cap ("{% macro f(n) %}{% if n < 60 %}{{ f(n + 1) }}{{ f(n + 1) }}{% endif %}{% endmacro %}{{ f(0) }}",
             "macro calls");
  /* Output size, by repetition and by doubling a string. */
  check_cap ("{{ 'x' * 100000000 }}", "MiB");
  check_cap ("{% set ns = namespace(s='xxxxxxxx') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
             "{% endfor %}{{ ns.s }}", "MiB");
  check_cap ("{% for i in range(100000) %}{% for j in range(9) %}{{ 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' }}"
             "{% endfor %}{% endfor %}", "MiB");
  /* Integers beyond 64 bits. */
  check_cap ("{{ 10 ** 30 }}", "integer overflow");
  /* Work under every other cap, each step scanning, comparing or copying
   * a long string (issue 14's template ran an hour), or going through a
   * long list: each would finish, slowly, without the work cap. */
  check_cap ("{% set s = 'x' * 40000 %}{% for i in range(100000) %}{% for j in range(9) %}{% if 'y' in s %}"
             "{% endif %}{% endfor %}{% endfor %}", "MiB of work");
  check_cap ("{% set s = 'x' * 40000 %}{% set t = 'x' * 40000 %}{% for i in range(100000) %}{% for j in range(9) %}"
             "{% if s == t %}{% endif %}{% endfor %}{% endfor %}", "MiB of work");
  check_cap ("{% set s = 'x' * 40000 %}{% for i in range(100000) %}{% for j in range(9) %}"
             "{% if s.startswith('y') %}{% endif %}{% endfor %}{% endfor %}", "MiB of work");
  check_cap ("{% set s = 'x' * 40000 %}{% for i in range(100000) %}{% for j in range(9) %}"
             "{% if s|length > 0 %}{% endif %}{% endfor %}{% endfor %}", "MiB of work");
  check_cap ("{% set l = range(20000)|list %}{% for i in range(100000) %}{% for j in range(9) %}"
             "{% if -1 in l %}{% endif %}{% endfor %}{% endfor %}", "MiB of work");
  g_assert_cmpint (g_get_monotonic_time () - start, <, 30 * G_USEC_PER_SEC);

  /* Deep nesting in the source is refused before the stack suffers. */
  GString *deep = g_string_new ("{{ ");
  for (int i = 0; i < 10000; i++)
    g_string_append_c (deep, '(');
  g_string_append (deep, "1");
  for (int i = 0; i < 10000; i++)
    g_string_append_c (deep, ')');
  g_string_append (deep, " }}");
  g_autoptr (GError) error = NULL;
  g_autoptr (TernChatTemplate) tmpl = tern_chat_template_new (deep->str, -1, NULL, NULL, &error);
  g_assert_null (tmpl);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED);
  g_string_free (deep, TRUE);

  GString *blocks = g_string_new (NULL);
  for (int i = 0; i < 5000; i++)
    g_string_append (blocks, "{% if true %}");
  g_autoptr (GError) error2 = NULL;
  g_autoptr (TernChatTemplate) tmpl2 = tern_chat_template_new (blocks->str, -1, NULL, NULL, &error2);
  g_assert_null (tmpl2);
  g_assert_error (error2, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_UNSUPPORTED);
  g_string_free (blocks, TRUE);

  /* A value that contains itself is refused, not followed forever. */
  check_cap ("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}", "nested");
}

/* Templates that are not UTF-8, and empty ones. */
/* A cancelled render stops with CANCELLED, before it has done much. */
static void
test_cancel (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (TernChatTemplate) tmpl =
      tern_chat_template_new ("{% for i in range(100000) %}{{ i }}{% endfor %}", -1, NULL, NULL, &error);
  TernChatRenderOptions options;
  const TernChatMessage hello = { "user", "Hello" };

  g_assert_no_error (error);
  tern_chat_render_options_init (&options);
  options.cancellable = cancellable;
  g_autoptr (TernChatPrompt) done = tern_chat_template_render (tmpl, &hello, 1, &options, &error);
  g_assert_no_error (error);
  g_assert_nonnull (done);

  g_cancellable_cancel (cancellable);
  g_autoptr (TernChatPrompt) stopped = tern_chat_template_render (tmpl, &hello, 1, &options, &error);
  g_assert_null (stopped);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_CANCELLED);
}

static void
test_encoding (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernChatTemplate) bad = tern_chat_template_new ("{{ 'caf\xe9' }}", -1, NULL, NULL, &error);
  g_autofree char *empty = render ("", NULL);

  g_assert_null (bad);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  g_assert_cmpstr (empty, ==, "");
}

/* The clock: strftime_now reads the time the options give, or now. */
static void
test_clock (void)
{
  g_autoptr (TernChatTemplate) tmpl = tern_chat_template_new ("{{ strftime_now('%Y') }}", -1, NULL, NULL, NULL);
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *year = g_strdup_printf ("%d", g_date_time_get_year (now));
  g_autoptr (TernChatPrompt) prompt = tern_chat_template_render (tmpl, NULL, 0, NULL, NULL);

  g_assert_cmpstr (tern_chat_prompt_text (prompt, NULL), ==, year);
}

/* The segments: which bytes came from messages, through transformations
 * that keep track (slices, strip, split, join) and those that do not
 * (upper, tojson), which mark the whole result. */
static void
test_segments (void)
{
  static const struct {
    const char *source;
    const char *user; /* the output with user bytes as '#' */
  } cases[] = {
    { "<{{ messages[1].content }}>", "<############################>" },
    { "<{{ messages[1].content|trim }}>", "<#########################>" },
    { "<{{ messages[2].content[0:2] + '|' + messages[2].content[3:] }}>", "<##|#####>" },
    { "<{{ messages[2].content.split(' ')|join('_') }}>", "<##_#####>" },
    { "<{{ messages[2].content|upper }}>", "<########>" },
    { "{{ 'x' ~ messages[2]|tojson }}", "x{\"role\": \"assistant\", \"content\": ##########}" },
    { "{% set s %}[{{ messages[0].content }}]{% endset %}{{ s }}", "[########]" },
    { "{% macro m(x) %}({{ x }}){% endmacro %}{{ m(messages[0].content) }}", "(########)" },
    { "{{ messages[0].role }}", "system" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (TernChatTemplate) tmpl = tern_chat_template_new (cases[i].source, -1, NULL, NULL, &error);
      g_assert_no_error (error);
      g_autoptr (TernChatPrompt) prompt = tern_chat_template_render (tmpl, messages, G_N_ELEMENTS (messages), NULL, &error);
      g_assert_no_error (error);
      gsize len, covered = 0;
      g_autofree char *marked = g_strdup (tern_chat_prompt_text (prompt, &len));

      for (gsize k = 0; k < tern_chat_prompt_n_segments (prompt); k++)
        {
          gsize start, n;
          gboolean is_user;
          tern_chat_prompt_segment (prompt, k, &start, &n, &is_user);
          g_assert_cmpuint (start, ==, covered);
          g_assert_cmpuint (n, >, 0);
          covered += n;
          if (is_user)
            memset (marked + start, '#', n);
        }
      g_assert_cmpuint (covered, ==, len);
      g_assert_cmpstr (marked, ==, cases[i].user);
    }
}

/* ---- tests/data/jinja-escaping.json ---- */

typedef struct {
  char *path;
  char *source;
  GPtrArray *roles, *contents; /* the messages */
  char *expected;              /* NULL when jinja2 fails */
  char *error;                 /* jinja2's error, "Kind: message" */
} EscapingCase;

/* The variables every case sees. */
static struct {
  char *bos_token, *eos_token;
  gboolean add_generation_prompt;
} escaping_variables;

static void
escaping_case_free (gpointer data)
{
  EscapingCase *c = data;
  g_free (c->path);
  g_free (c->source);
  g_ptr_array_unref (c->roles);
  g_ptr_array_unref (c->contents);
  g_free (c->expected);
  g_free (c->error);
  g_free (c);
}

static void
test_escaping (gconstpointer data)
{
  const EscapingCase *c = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (TernChatTemplate) tmpl =
    tern_chat_template_new (c->source, -1, escaping_variables.bos_token, escaping_variables.eos_token, &error);
  g_autofree TernChatMessage *msgs = g_new0 (TernChatMessage, MAX (c->roles->len, 1));
  g_autoptr (TernChatPrompt) prompt = NULL;
  TernChatRenderOptions options;

  for (guint k = 0; k < c->roles->len; k++)
    msgs[k] = (TernChatMessage) { c->roles->pdata[k], c->contents->pdata[k] };
  tern_chat_render_options_init (&options);
  options.add_generation_prompt = escaping_variables.add_generation_prompt;
  if (tmpl)
    prompt = tern_chat_template_render (tmpl, msgs, c->roles->len, &options, &error);

  if (c->expected)
    {
      gsize len;
      g_assert_no_error (error);
      /* The log shows both with their control characters escaped; a NUL
       * byte shows in the length. */
      g_assert_cmpstr (tern_chat_prompt_text (prompt, &len), ==, c->expected);
      g_assert_cmpuint (len, ==, strlen (c->expected));
      return;
    }

  /* jinja2's "TypeError: message": Tern fails, compiling or rendering,
   * with a FORMAT error whose message holds the same text. */
  if (prompt)
    g_test_message ("jinja2: %s; Tern rendered: %s", c->error, tern_chat_prompt_text (prompt, NULL));
  g_assert_null (prompt);
  g_assert_nonnull (error);
  g_test_message ("jinja2: %s; Tern: %s", c->error, error->message);
  const char *colon = strstr (c->error, ": ");
  g_assert_nonnull (colon);
  g_assert_error (error, TERN_ENGINE_ERROR, TERN_ENGINE_ERROR_FORMAT);
  g_assert_true (g_str_has_prefix (error->message, "chat template line "));
  g_assert_nonnull (strstr (error->message, colon + 2));
}

/* Registers one test per case of the file. */
static GPtrArray *
add_escaping_tests (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "jinja-escaping.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  GPtrArray *cases = g_ptr_array_new_with_free_func (escaping_case_free);

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  JsonObject *root = json_node_get_object (json_parser_get_root (parser));
  JsonObject *vars = json_object_get_object_member (root, "variables");
  escaping_variables.bos_token = g_strdup (json_object_get_string_member (vars, "bos_token"));
  escaping_variables.eos_token = g_strdup (json_object_get_string_member (vars, "eos_token"));
  escaping_variables.add_generation_prompt = json_object_get_boolean_member (vars, "add_generation_prompt");

  JsonArray *list = json_object_get_array_member (root, "cases");
  g_assert_cmpuint (json_array_get_length (list), >, 0);
  for (guint i = 0; i < json_array_get_length (list); i++)
    {
      JsonObject *o = json_array_get_object_element (list, i);
      JsonArray *msgs = json_object_get_array_member (o, "messages");
      EscapingCase *c = g_new0 (EscapingCase, 1);

      c->path = g_strconcat ("/engine/jinja/escaping/", json_object_get_string_member (o, "name"), NULL);
      c->source = g_strdup (json_object_get_string_member (o, "template"));
      c->roles = g_ptr_array_new_with_free_func (g_free);
      c->contents = g_ptr_array_new_with_free_func (g_free);
      for (guint k = 0; k < json_array_get_length (msgs); k++)
        {
          JsonObject *m = json_array_get_object_element (msgs, k);
          g_ptr_array_add (c->roles, g_strdup (json_object_get_string_member (m, "role")));
          g_ptr_array_add (c->contents, g_strdup (json_object_get_string_member (m, "content")));
        }
      if (json_object_has_member (o, "expected"))
        c->expected = g_strdup (json_object_get_string_member (o, "expected"));
      else
        c->error = g_strdup (json_object_get_string_member (o, "error"));
      g_test_add_data_func (c->path, c, test_escaping);
      g_ptr_array_add (cases, c);
    }
  return cases;
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (render_cases); i++)
    {
      g_autofree char *path = g_strconcat ("/engine/jinja/", render_cases[i].path, NULL);
      g_test_add_data_func (path, &render_cases[i], test_render);
    }
  for (guint i = 0; i < G_N_ELEMENTS (error_cases); i++)
    {
      g_autofree char *path = g_strconcat ("/engine/jinja/", error_cases[i].path, NULL);
      g_test_add_data_func (path, &error_cases[i], test_error);
    }
  g_test_add_func ("/engine/jinja/errors/raise-exception", test_raise_exception);
  g_test_add_func ("/engine/jinja/errors/unsupported-tag", test_unsupported_tag);
  g_test_add_func ("/engine/jinja/caps", test_caps);
  g_test_add_func ("/engine/jinja/cancel", test_cancel);
  g_test_add_func ("/engine/jinja/encoding", test_encoding);
  g_test_add_func ("/engine/jinja/clock", test_clock);
  g_test_add_func ("/engine/jinja/segments", test_segments);
  g_autoptr (GPtrArray) escaping_cases = add_escaping_tests ();
  int status = g_test_run ();
  g_free (escaping_variables.bos_token);
  g_free (escaping_variables.eos_token);
  return status;
}
