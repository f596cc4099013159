// yoga reads `variables` and `extensions` of GET and form requests with a bare JSON.parse, so a
// malformed value there throws a SyntaxError that would be masked as an internal error. It is the
// client's mistake: answer 400, as yoga already does for a POST body that is not JSON.
import { createGraphQLError, type Plugin } from 'graphql-yoga';

export function useBadRequestParams(): Plugin {
  return {
    onRequestParse({ requestParser, setRequestParser }) {
      // yoga's own parsers are registered before any plugin, so this wraps the one chosen for the request.
      if (!requestParser) return;
      setRequestParser(async (request) => {
        try {
          return await requestParser(request);
        } catch (error) {
          if (!(error instanceof SyntaxError)) throw error;
          throw createGraphQLError('The variables or extensions parameter is not valid JSON.', {
            extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
          });
        }
      });
    },
  };
}
