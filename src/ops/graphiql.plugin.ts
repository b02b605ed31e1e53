import type { ApolloServerPlugin } from '@apollo/server';

/**
 * GraphiQL as Apollo's landing page (GET /graphql from a browser), rendered from the local npm package: one
 * self-contained page with no CDN or external host, so it works offline and behind the Great Firewall. Apollo's
 * default landing page loads from apollographql.com and Google Fonts, which is blank there.
 */
export function graphiqlPlugin(): ApolloServerPlugin {
  let html: string | undefined;
  return {
    async serverWillStart() {
      return {
        async renderLandingPage() {
          // Loaded on first use: the package is one 9 MB string that a server nobody browses need not hold.
          const { renderGraphiQL } = await import('@graphql-yoga/render-graphiql');
          html ??= renderGraphiQL({
            endpoint: '/graphql',
            title: 'wxmp-graphql',
            isHeadersEditorEnabled: true,
            shouldPersistHeaders: false,
            defaultQuery: '# Log in with a simulator code, then put the token in Headers:\n# {"Authorization": "Bearer <token>"}\n{\n  me {\n    id\n    openid\n    nickname\n  }\n}\n',
          });
          return { html };
        },
      };
    },
  };
}
