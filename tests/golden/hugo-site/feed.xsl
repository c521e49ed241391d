<?xml version="1.0" encoding="UTF-8"?>
<!-- Shown by a browser that opens feed.xml or atom.xml: a readable page that says what
     a feed is and how to subscribe, instead of raw XML. Feed readers ignore it. -->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom"
    exclude-result-prefixes="atom">
  <xsl:output method="html" encoding="UTF-8" indent="yes" doctype-system="about:legacy-compat"/>

  <xsl:variable name="title" select="/rss/channel/title | /atom:feed/atom:title"/>
  <xsl:variable name="description" select="/rss/channel/description | /atom:feed/atom:subtitle"/>
  <xsl:variable name="home" select="/rss/channel/link | /atom:feed/atom:link[@rel='alternate']/@href"/>
  <xsl:variable name="self" select="/rss/channel/atom:link[@rel='self']/@href | /atom:feed/atom:link[@rel='self']/@href"/>

  <xsl:template match="/">
    <html lang="en">
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <meta name="color-scheme" content="light dark"/>
        <title><xsl:value-of select="$title"/> · web feed</title>
        <style>
          body { margin: 0; background: #f4f1ec; color: #2b2b2b; font: 17px/1.6 Georgia, 'Times New Roman', serif; }
          main, header { max-width: 680px; margin: 0 auto; padding: 0 20px; }
          header { padding-top: 32px; padding-bottom: 8px; }
          .badge { display: inline-block; margin: 0; padding: 2px 10px; border-radius: 12px; background: #8a5a1e; color: #fff; font: bold 13px/20px Helvetica, Arial, sans-serif; }
          h1 { margin: 12px 0 4px; font-size: 30px; line-height: 1.2; }
          .about { padding: 14px 16px; background: #fff; border-left: 3px solid #c9b99a; font: 15px/1.5 Helvetica, Arial, sans-serif; }
          code { display: block; margin-top: 8px; padding: 6px 8px; background: #f7f4ee; word-break: break-all; }
          article { padding: 16px 0; border-bottom: 1px solid #e6e1d8; }
          article h2 { margin: 0 0 4px; font-size: 21px; line-height: 1.3; }
          a { color: #8a5a1e; }
          .date { margin: 0; color: #6b6b6b; font: 13px/18px Helvetica, Arial, sans-serif; }
          @media (prefers-color-scheme: dark) {
            body { background: #161514; color: #e8e4dc; }
            .about { background: #22201e; } code { background: #2c2926; }
            a { color: #e0b572; } .date { color: #b5ad9f; }
          }
        </style>
      </head>
      <body>
        <header>
          <p class="badge">Web feed</p>
          <h1><xsl:value-of select="$title"/></h1>
          <p><xsl:value-of select="$description"/></p>
          <div class="about">
            This is a web feed: subscribe by copying its address into a feed reader
            (NetNewsWire, Feedly, Inoreader, Thunderbird, newsboat…), and new posts
            come to you as they are published.
            <code><xsl:value-of select="$self"/></code>
          </div>
          <p><a href="{$home}">Visit <xsl:value-of select="$title"/> →</a></p>
        </header>
        <main>
          <xsl:apply-templates select="/rss/channel/item | /atom:feed/atom:entry"/>
        </main>
      </body>
    </html>
  </xsl:template>

  <xsl:template match="item">
    <article class="entry">
      <h2><a href="{link}"><xsl:value-of select="title"/></a></h2>
      <p class="date"><xsl:value-of select="substring(pubDate, 6, 11)"/></p>
      <!-- description holds the excerpt as escaped HTML text -->
      <p><xsl:value-of select="description" disable-output-escaping="yes"/></p>
    </article>
  </xsl:template>

  <xsl:template match="atom:entry">
    <article class="entry">
      <h2><a href="{atom:link[@rel='alternate']/@href}"><xsl:value-of select="atom:title"/></a></h2>
      <p class="date"><xsl:value-of select="substring(atom:published, 1, 10)"/></p>
      <p><xsl:value-of select="atom:summary"/></p>
    </article>
  </xsl:template>
</xsl:stylesheet>
