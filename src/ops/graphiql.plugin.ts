import type { ApolloServerPlugin } from '@apollo/server';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';

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
